/**
 * CI runs every package's tests on Node 20, 22 and 24 by putting another node first on PATH
 * (.ci/run). That only tests those versions if vitest really runs on that node, which nothing else
 * checks: .ci/run sets ATTNKIT_EXPECT_NODE to the major it means, and this test holds it to that.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const expected = process.env.ATTNKIT_EXPECT_NODE;
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);

describe('the Node running these tests', () => {
  it.runIf(expected !== undefined)(`is Node ${expected} as .ci/run asked (ATTNKIT_EXPECT_NODE)`, () => {
    expect(String(major)).toBe(expected);
  });

  it("is one the harness's engines field accepts (>= 20.19)", () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines?: { node?: string };
    };
    expect(manifest.engines?.node).toBe('>=20.19');
    expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
  });
});
