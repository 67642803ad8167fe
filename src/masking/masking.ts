/** Masking rules beyond Secrets (issue 5 fills this in). */
export interface MaskingRules {
  readonly extra: readonly unknown[];
}
