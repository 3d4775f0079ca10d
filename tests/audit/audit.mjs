// Runs every graphql-http server audit (the public GraphQL-over-HTTP conformance suite)
// against one GraphQL endpoint and prints a JSON report on stdout.
//
//   node tests/audit/audit.mjs http://127.0.0.1:8000/graphql
//
// Each audit runs on its own, so one that throws (a fatal error in graphql-http's terms,
// e.g. a response that is not JSON at all) is reported as an error instead of aborting
// the rest. The exit status is 1 when any MUST audit failed, 0 otherwise; 2 on misuse.
// tests/gateway/test_graphql_over_http.py starts a sandbox gateway and reads the report.

import { readFileSync } from 'node:fs';
import { serverAudits } from 'graphql-http';

const BODY_PREVIEW = 300;

function usage() {
  process.stderr.write('usage: node audit.mjs <graphql-url>\n');
  process.exit(2);
}

function suiteVersion() {
  const manifest = new URL('./node_modules/graphql-http/package.json', import.meta.url);
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

// What the failing response looked like, for the report (the body may have been read by
// the assertion already, in which case only the status and content type are known).
async function describe(response) {
  if (!response) return '';
  const type = response.headers?.get('content-type') ?? '(none)';
  let body = '';
  try {
    body = (await response.clone().text()).slice(0, BODY_PREVIEW);
  } catch {
    body = '(body already read)';
  }
  return ` [HTTP ${response.status}, content-type ${type}: ${body}]`;
}

async function runOne(audit) {
  try {
    const result = await audit.fn();
    if (result.status === 'ok') {
      return { id: result.id, name: result.name, status: 'ok', message: '' };
    }
    const message = `${result.reason}${await describe(result.response)}`;
    return { id: result.id, name: result.name, status: result.status, message };
  } catch (error) {
    // graphql-http treats anything but an assertion failure as fatal: count it as failed.
    return {
      id: audit.id,
      name: audit.name,
      status: 'error',
      message: `fatal: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

async function main() {
  const url = process.argv[2];
  if (!url) usage();
  const results = [];
  for (const audit of serverAudits({ url })) {
    results.push(await runOne(audit));
  }
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  for (const result of results) counts[result.status] = (counts[result.status] ?? 0) + 1;
  const report = { suite: 'graphql-http', version: suiteVersion(), url, counts, results };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = counts.error > 0 ? 1 : 0;
}

await main();
