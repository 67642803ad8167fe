/** A configuration that cannot start Gatehouse; lists every problem found, not just the first. */
export class GatehouseConfigError extends Error {
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'GatehouseConfigError';
    this.problems = problems;
  }
}
