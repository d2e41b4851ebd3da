import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../packages/freshcache/src/capture/capture-error.js';
import { compileRules, type CaptureRule } from '../../packages/freshcache/src/capture/capture-rules.js';
import { qualifyTable, type RowChange } from '../../packages/freshcache/src/seams/row-change.js';

const USERS: CaptureRule = { table: 'users', key: 'user:{id}', tags: ['org:{org_id}', 'users'] };
const COLUMNS: Record<string, string[]> = { 'public.users': ['id', 'org_id', 'name'], 'public.orgs': ['id', 'name'], 'billing.invoices': ['tenant', 'id'] };
const columnsOf = (table: string) => COLUMNS[table];

function change(op: RowChange['op'], rows: Pick<RowChange, 'old' | 'new'> = {}, table = 'public.users'): RowChange {
  return { table, op, ...rows, position: 1, committedAt: 0 };
}

function captureError(run: () => unknown): CaptureError {
  try {
    run();
  } catch (err) {
    if (err instanceof CaptureError) return err;
    throw err;
  }
  throw new Error('no CaptureError thrown');
}

describe('compileRules', () => {
  it('an insert maps the new row', () => {
    const { map } = compileRules([USERS], { columnsOf });
    expect(map(change('insert', { new: { id: 1, org_id: 3, name: 'a' } }))).toEqual({ keys: ['user:1'], tags: ['org:3', 'users'], prefixes: [] });
  });

  it('an update maps the old row and the new row: a user moved from org 3 to org 7 invalidates both', () => {
    const { map } = compileRules([USERS]);
    const targets = map(change('update', { old: { id: 1, org_id: 3, name: 'a' }, new: { id: 1, org_id: 7, name: 'a' } }));
    expect(targets.keys).toEqual(['user:1']);
    expect(targets.tags.sort()).toEqual(['org:3', 'org:7', 'users']);
  });

  it('an update without an old row (replica identity unchanged) maps the new row', () => {
    const { map } = compileRules([{ table: 'users', key: 'user:{id}' }]);
    expect(map(change('update', { new: { id: 1, org_id: 7 } })).keys).toEqual(['user:1']);
  });

  it('a delete maps the old row', () => {
    const { map } = compileRules([USERS]);
    expect(map(change('delete', { old: { id: 2, org_id: 5, name: 'b' } }))).toEqual({ keys: ['user:2'], tags: ['org:5', 'users'], prefixes: [] });
  });

  it('a truncate purges the key template literal prefix and the tags without placeholder, plus onTruncate', () => {
    const { map } = compileRules([
      USERS,
      { table: 'users', key: 'directory', prefixes: ['org:{org_id}:members:'] },
      { table: 'users', key: '{id}:profile', onTruncate: { tags: ['profiles'], prefixes: ['p:'] } },
    ]);
    expect(map(change('truncate'))).toEqual({ keys: ['directory'], tags: ['users', 'profiles'], prefixes: ['user:', 'org:', 'p:'] });
  });

  it('a rule a truncate would purge nothing for is refused unless it declares onTruncate, naming the table', () => {
    const err = captureError(() => compileRules([{ table: 'app.users', key: '{id}', tags: ['org:{org_id}'] }]));
    expect(err.code).toBe('invalid_rule');
    expect(err.table).toBe('app.users');
    expect(err.message).toContain('app.users');
    expect(err.message).toContain('onTruncate');
    expect(() => compileRules([{ table: 'app.users', key: '{id}', tags: ['org:{org_id}'], onTruncate: { tags: ['users'] } }])).not.toThrow();
    expect(captureError(() => compileRules([{ table: 'users', key: '{id}', onTruncate: {} }])).message).toContain('onTruncate names no tags or prefixes');
    expect(captureError(() => compileRules([{ table: 'users', key: '{id}', onTruncate: { tags: ['org:{org_id}'] } }])).message).toContain('has a placeholder');
  });

  it('a rule naming a column the table lacks is refused, naming the table and the column', () => {
    const err = captureError(() => compileRules([{ table: 'users', key: 'user:{id}', tags: ['team:{team_id}'] }], { columnsOf }));
    expect(err.code).toBe('invalid_rule');
    expect(err.columns).toEqual(['team_id']);
    expect(err.message).toContain('public.users');
    expect(err.message).toContain('team_id');
    expect(captureError(() => compileRules([{ table: 'nope', key: 'n:{id}' }], { columnsOf })).message).toContain('public.nope: no such table');
    expect(captureError(() => compileRules([{ table: 'nope', map: () => ({}) }], { columnsOf })).message).toContain('no such table');
  });

  it('an old row without a column a template needs throws unmappable_change instead of dropping the change', () => {
    const { map } = compileRules([USERS]);
    // A delete under the default replica identity carries only the key.
    const del = captureError(() => map(change('delete', { old: { id: 2 } })));
    expect(del.code).toBe('unmappable_change');
    expect(del.columns).toEqual(['org_id']);
    expect(del.message).toMatch(/delete of public\.users .*old row lacks column org_id/);
    const upd = captureError(() => map(change('update', { old: { id: 1 }, new: { id: 9, org_id: 7 } })));
    expect(upd.code).toBe('unmappable_change');
    expect(captureError(() => map(change('delete'))).message).toContain('has no old row');
    expect(captureError(() => map(change('insert'))).message).toContain('has no new row');
  });

  it('a null column renders nothing; a value that cannot be rendered is unmappable', () => {
    const { map } = compileRules([USERS]);
    expect(map(change('update', { old: { id: 1, org_id: 3 }, new: { id: 1, org_id: null } })).tags.sort()).toEqual(['org:3', 'users']);
    const err = captureError(() => map(change('insert', { new: { id: 1, org_id: { nested: true } } })));
    expect(err.code).toBe('unmappable_change');
    expect(err.columns).toEqual(['org_id']);
  });

  it('several rules per table are merged without duplicates; rules for other tables are ignored', () => {
    const { map } = compileRules([USERS, { table: 'public.users', key: 'user:{id}', tags: ['users'], prefixes: ['org:{org_id}:'] }, { table: 'orgs', key: 'org:{id}' }]);
    expect(map(change('insert', { new: { id: 1, org_id: 3 } }))).toEqual({ keys: ['user:1'], tags: ['org:3', 'users'], prefixes: ['org:3:'] });
    expect(map(change('insert', { new: { id: 3 } }, 'public.orgs')).keys).toEqual(['org:3']);
    expect(map(change('insert', { new: { id: 1 } }, 'public.teams'))).toEqual({ keys: [], tags: [], prefixes: [] });
    // A schema-qualified rule is its own table.
    expect(map(change('insert', { new: { id: 1, org_id: 3 } }, 'app.users'))).toEqual({ keys: [], tags: [], prefixes: [] });
  });

  it('schema-qualified tables and composite keys', () => {
    const { map } = compileRules([{ table: 'billing.invoices', key: 'tenant:{tenant}:invoice:{id}', tags: ['invoices'] }], { columnsOf });
    expect(map(change('delete', { old: { tenant: 'acme', id: 7 } }, 'billing.invoices')).keys).toEqual(['tenant:acme:invoice:7']);
    expect(map(change('truncate', {}, 'billing.invoices'))).toEqual({ keys: [], tags: ['invoices'], prefixes: ['tenant:'] });
  });

  it('the function form sees every change, truncates included, and merges with the templates', () => {
    const seen: string[] = [];
    const { map } = compileRules([
      USERS,
      {
        table: 'users',
        map: (c) => {
          seen.push(c.op);
          return c.op === 'truncate' ? { all: true } : { keys: [`user:${String(c.new?.id ?? c.old?.id)}`, 'everyone'] };
        },
      },
    ]);
    expect(map(change('insert', { new: { id: 1, org_id: 3 } }))).toEqual({ keys: ['user:1', 'everyone'], tags: ['org:3', 'users'], prefixes: [] });
    expect(map(change('truncate')).all).toBe(true);
    expect(seen).toEqual(['insert', 'truncate']);
  });

  it('refuses malformed rules with a message naming the table', () => {
    const cases: [unknown, RegExp][] = [
      [{ table: 'users', key: 'user:{id' }, /public\.users: key: Key template "user:\{id"/],
      [{ table: 'users', tags: ['{a}{b}'] }, /public\.users: tags\[0\]/],
      [{ table: 'users' }, /names no key, tags or prefixes/],
      [{ table: 'users', key: 'user:{id}', tag: ['users'] }, /unknown field\(s\) tag/],
      [{ table: 'users', key: 'user:{id}', map: () => ({}) }, /takes no other fields \(found key\)/],
      [{ table: 'users', map: 'nope' }, /`map` must be a function/],
      [{ table: 'a.b.c', key: 'x' }, /schema\.table/],
      [{ table: 'users', tags: 'users' }, /tags must be an array/],
    ];
    for (const [rule, message] of cases) {
      const err = captureError(() => compileRules([rule as CaptureRule]));
      expect(err.code).toBe('invalid_rule');
      expect(err.message).toMatch(message);
    }
  });

  it('qualifyTable: an unqualified name means the public schema', () => {
    expect(qualifyTable('users')).toBe('public.users');
    expect(qualifyTable('app.users')).toBe('app.users');
    for (const bad of ['', '.users', 'app.', 'a.b.c']) expect(() => qualifyTable(bad)).toThrow(/schema\.table/);
    // A change reported with an unqualified name still finds its rules.
    expect(compileRules([USERS]).map(change('insert', { new: { id: 1, org_id: 2 } }, 'users')).keys).toEqual(['user:1']);
  });

  const id = fc.oneof(fc.integer({ min: 0 }), fc.stringMatching(/^[a-z0-9-]{1,8}$/));
  const row = fc.record({ id, org_id: fc.option(id, { nil: null }), name: fc.string() });

  it('property: an update maps the targets of both rows (a moved row invalidates the old and the new org)', () => {
    const { map } = compileRules([USERS, { table: 'users', key: 'org:{org_id}:member:{id}', prefixes: ['org:{org_id}:'] }], { columnsOf });
    fc.assert(
      fc.property(row, row, (before, after) => {
        const both = map(change('update', { old: before, new: after }));
        const alone = (r: Record<string, unknown>) => map(change('insert', { new: r }));
        for (const part of [alone(before), alone(after)]) {
          expect(both.keys).toEqual(expect.arrayContaining(part.keys));
          expect(both.tags).toEqual(expect.arrayContaining(part.tags));
          expect(both.prefixes).toEqual(expect.arrayContaining(part.prefixes));
        }
        if (before.org_id !== null) expect(both.tags).toContain(`org:${before.org_id}`);
        if (after.org_id !== null) expect(both.tags).toContain(`org:${after.org_id}`);
        for (const list of [both.keys, both.tags, both.prefixes]) expect(new Set(list).size).toBe(list.length);
      }),
      { numRuns: 300 },
    );
  });

  it('property: a truncate covers every key, prefix and literal tag the rules could produce for any row', () => {
    const literal = fc.stringMatching(/^[a-z:]{1,4}$/);
    const column = fc.constantFrom('id', 'org_id', 'name');
    const rule = fc
      .record({ head: literal, col: column, tail: fc.option(literal, { nil: undefined }), tag: fc.oneof(fc.stringMatching(/^[a-z]{1,4}$/), column.map((c) => `t:{${c}}`)) })
      .map(({ head, col, tail, tag }): CaptureRule => ({ table: 'users', key: `${head}{${col}}${tail ?? ''}`, tags: [tag], prefixes: [`P${head}{${col}}:`] }));
    const fullRow = fc.record({ id, org_id: id, name: fc.stringMatching(/^[a-z]{1,5}$/) });
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 4 }), fc.array(fullRow, { maxLength: 5 }), (rules, rows) => {
        const { map } = compileRules(rules, { columnsOf });
        const purge = map(change('truncate'));
        for (const r of rows) {
          const targets = map(change('insert', { new: r }));
          for (const key of targets.keys) expect(purge.keys.includes(key) || purge.prefixes.some((p) => key.startsWith(p))).toBe(true);
          for (const prefix of targets.prefixes) expect(purge.prefixes.some((p) => prefix.startsWith(p))).toBe(true);
          for (const tag of targets.tags) if (!tag.startsWith('t:')) expect(purge.tags).toContain(tag);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('compileRules: array columns and what the rules read', () => {
  it('an array column renders one target per element, none when empty or null', () => {
    const { map } = compileRules([{ table: 'posts', key: 'post:{id}', tags: ['label:{labels}', 'posts'] }]);
    const at = (row: Record<string, unknown>) => map({ table: 'public.posts', op: 'insert', new: row, position: 1, committedAt: 0 });
    expect(at({ id: 1, labels: ['a', 'b', null] }).tags.sort()).toEqual(['label:a', 'label:b', 'posts']);
    expect(at({ id: 2, labels: [] }).tags).toEqual(['posts']);
    expect(at({ id: 3, labels: null }).tags).toEqual(['posts']);
  });

  it('lists the tables it watches and the columns their templates read', () => {
    const rules = compileRules([
      { table: 'users', key: 'user:{id}', tags: ['org:{org_id}'] },
      { table: 'app.orgs', key: 'org:{id}:meta' },
      { table: 'users', map: () => ({}) },
    ]);
    expect(rules.tables).toEqual(['public.users', 'app.orgs']);
    expect(rules.columnsRead('users').sort()).toEqual(['id', 'org_id']);
    expect(rules.hasFunctionRule('public.users')).toBe(true);
    expect(rules.hasFunctionRule('app.orgs')).toBe(false);
  });
});

describe('compileRules: the version column', () => {
  const rules = [{ table: 'posts', key: 'post:{id}', version: 'rev' }];
  const change = (op: 'insert' | 'update' | 'delete', rows: { old?: Record<string, unknown>; new?: Record<string, unknown> }) =>
    ({ table: 'public.posts', op, ...rows, position: 1, committedAt: 0 }) as const;

  it('maps the new row\'s version (a deleted row\'s when sent), reading bigint digits as numbers', () => {
    const { map } = compileRules(rules);
    expect(map(change('insert', { new: { id: 1, rev: '41' } })).version).toBe(41);
    expect(map(change('update', { old: { id: 1, rev: 41 }, new: { id: 1, rev: 42 } })).version).toBe(42);
    expect(map(change('delete', { old: { id: 1, rev: 42 } })).version).toBe(42);
    // Informational: a row without it (a key-only old row) still maps its targets.
    expect(map(change('delete', { old: { id: 1 } }))).toEqual({ keys: ['post:1'], tags: [], prefixes: [] });
  });

  it('gives an insert\'s or update\'s new key its row\'s version in keyVersions: not a delete, a moved row\'s old key, an unversioned rule or an inexact version', () => {
    const { map } = compileRules(rules, { primaryKeyOf: () => ['id'] });
    expect(map(change('update', { old: { id: 1, rev: 41 }, new: { id: 1, rev: '42' } })).keyVersions).toEqual({ 'post:1': 42 });
    expect(map(change('update', { old: { id: 1, rev: 41 }, new: { id: 2, rev: 42 } })).keyVersions).toEqual({ 'post:2': 42 });
    expect(map(change('delete', { old: { id: 1, rev: 42 } })).keyVersions).toBeUndefined();
    // A bigint past 2^53 would round, and could then pass for an older one.
    expect(map(change('insert', { new: { id: 1, rev: '9007199254740993' } })).keyVersions).toBeUndefined();
    // Another rule names the same key without a version: the generation check rules.
    const both = compileRules([...rules, { table: 'posts', key: 'post:{id}', tags: ['posts'] }], { primaryKeyOf: () => ['id'] });
    expect(both.map(change('insert', { new: { id: 1, rev: 1 } })).keyVersions).toBeUndefined();
  });

  it('gives a key a version only when it names one row: all primary key columns, and one table of that key shape', () => {
    const pk = { primaryKeyOf: (table: string) => (table === 'public.members' ? ['org_id', 'user_id'] : ['id']) };
    const insert = (table: string, row: Record<string, unknown>) => ({ table, op: 'insert' as const, new: row, position: 1, committedAt: 0 });
    // A key of several rows: versions of different rows do not order its loads.
    const byAuthor = compileRules([{ table: 'posts', key: 'posts-by:{author}', version: 'rev' }], pk);
    expect(byAuthor.map(insert('public.posts', { id: 1, author: 'ada', rev: 3 })).keyVersions).toBeUndefined();
    // A composite primary key named in full names one row.
    const members = compileRules([{ table: 'members', key: 'member:{org_id}:{user_id}', version: 'rev' }], pk);
    expect(members.map(insert('public.members', { org_id: 1, user_id: 2, rev: 5 })).keyVersions).toEqual({ 'member:1:2': 5 });
    // Two tables rendering one key shape: their versions are not comparable.
    const two = compileRules([{ table: 'users', key: 'user:{id}', version: 'rev' }, { table: 'profiles', key: 'user:{id}', version: 'rev' }], pk);
    expect(two.map(insert('public.users', { id: 1, rev: 5 })).keyVersions).toBeUndefined();
    // Without the catalog's primary keys, no key is versioned.
    expect(compileRules([{ table: 'users', key: 'user:{id}', version: 'rev' }]).map(insert('public.users', { id: 1, rev: 5 })).keyVersions).toBeUndefined();
  });

  it('refuses a version column the table lacks, or that is not a column name', () => {
    expect(captureError(() => compileRules(rules, { columnsOf: () => ['id'] })).message).toContain('no column rev');
    expect(captureError(() => compileRules([{ table: 'posts', key: 'post:{id}', version: '{rev}' }])).message).toContain('version must name a column');
  });
});
