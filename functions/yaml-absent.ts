/**
 * Stands in, in the Lambda bundle only (infra/lambda-bundle.ts aliases `yaml` to this file),
 * for the YAML parser: 115 KB of a bundle whose target is 1 MB, for input the function does
 * not read. On Lambda the policy is the `policy.json` the stack converts at synth, the
 * upstream is EKS, and what reaches the function as YAML is read as JSON first (JSON is YAML:
 * what kubectl sends as `application/apply-patch+yaml` is JSON).
 *
 * What is left — a YAML policy or kubeconfig named by an environment variable, a request body
 * in YAML proper — is refused with this error, by name: a policy or kubeconfig fails the cold
 * start with this message, a body is recorded as a note saying why it was not kept (fail
 * closed: never unmasked).
 */
export class YamlUnavailableError extends Error {
  override readonly name = 'YamlUnavailableError';
  constructor() {
    super('Gatehouse on AWS Lambda reads no YAML: give the policy as the JSON the CDK stack converts at synth, and files in JSON form');
  }
}

function unavailable(): never {
  throw new YamlUnavailableError();
}

export const parse = unavailable;
export const parseDocument = unavailable;
export const stringify = unavailable;
export const isNode = unavailable;

export class LineCounter {
  constructor() {
    unavailable();
  }
}
