/** Kept for existing imports of the rules type; new code imports from `masking/index.ts`. */
export type { MaskingRules } from './masking-rules.ts';
