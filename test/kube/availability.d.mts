export const BUILD_SCRIPT: string;
export function realServerRequired(env?: NodeJS.ProcessEnv): boolean;
export function usesRealCluster(file: string): boolean;
export function prepareRealServer(env?: NodeJS.ProcessEnv): { bin: string; reason?: undefined } | { bin?: undefined; reason: string };
export function realServerForRun(files: string[]): { env: Record<string, string>; notice: string | undefined };
