/**
 * Stands in, in the Lambda bundle only (infra/lambda-bundle.ts aliases the packages to this
 * file), for the AWS SDK credential sources a Lambda function never uses: SSO, shared
 * config/credentials files (`fromIni`), `credential_process` and a web identity token file.
 * On Lambda the execution role's credentials are in the environment (the default chain's
 * first source, kept), and the container/instance metadata sources are kept too; these four
 * pull ~80 KB of SDK (nested SSO, SSO-OIDC, STS and sign-in clients) into every cold start.
 *
 * Each answers the way an unconfigured source does — a CredentialsProviderError that lets the
 * chain try its next source — so a function without credentials still fails closed with the
 * SDK's own "Could not load credentials from any providers".
 */
// The SDK's own error class (from the SDK's core, which the bundle holds anyway), so the chain recognises it.
import { CredentialsProviderError } from '@smithy/core/config';

type Provider = () => () => Promise<never>;

const absent =
  (source: string): Provider =>
  () =>
  () =>
    Promise.reject(new CredentialsProviderError(`${source} credentials are not available to Gatehouse on AWS Lambda`, { tryNextLink: true }));

export const fromSSO = absent('SSO');
export const fromIni = absent('shared config file');
export const fromProcess = absent('credential_process');
export const fromTokenFile = absent('web identity token file');
export const fromWebToken = absent('web identity');
