/**
 * The JSON schema of capture rules as plain data (the config file's form: no function rules).
 * It checks the shape only, so that a config file's validator can embed it and report a typo at
 * its path; templates, columns and truncate coverage are checked by `compileRules`, which every
 * rule must still pass.
 */
const templates = { type: 'array', items: { type: 'string', minLength: 1 } } as const;

export const CAPTURE_RULE_SCHEMA = {
  type: 'object',
  required: ['table'],
  additionalProperties: false,
  anyOf: [{ required: ['key'] }, { required: ['tags'] }, { required: ['prefixes'] }],
  properties: {
    table: { type: 'string', pattern: '^[^.]+(\\.[^.]+)?$' },
    key: { type: 'string', minLength: 1 },
    tags: templates,
    prefixes: templates,
    version: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    onTruncate: {
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['tags'] }, { required: ['prefixes'] }],
      properties: { tags: templates, prefixes: templates },
    },
  },
} as const;

export const CAPTURE_RULES_SCHEMA = { type: 'array', items: CAPTURE_RULE_SCHEMA } as const;
