#!/usr/bin/env node
// Standalone check of a built trailwarden plugin component, without the Rust host:
//
//   node plugins/js/tools/check-component.mjs PLUGIN.wasm [--imports-only] [--allow-wasi]
//        [--config JSON] [FIXTURE.json ...]
//
// 1. The file is a WebAssembly component (not a core module); its imports and exports
//    (`jco wit`). Imports must be `trailwarden:plugin/*@0.2.0` only (0.3.0 adds no import),
//    unless --allow-wasi (componentize-py without --stub-wasi, StarlingMonkey) lets `wasi:*`
//    through; exports must include `describe` and `handle`.
// 2. Unless --imports-only: the component runs under Node (`jco transpile`), with the host
//    imports played by this script: `config` answers --config (default `{}`), `state` is an
//    in-memory store whose TTLs run on event time, `log` prints, and every capability call is
//    recorded, never executed, and answered with the receipt the fixture lists. `describe()`
//    is checked (patterns and fixtures are JSON), then each fixture, the shipped ones
//    (`describe().fixtures`) unless files are named, is run twice: as one batch with one
//    clock (as `trailwarden test` does) and one event per batch with the clock following
//    event time (as the pipeline may deliver them). Events are normalised and routed by the
//    plugin's patterns with a small stand-in for the host's normaliser and matcher (exact
//    values, prefix, suffix, exists, anything-but, equals-ignore-case; other operators
//    match).
// 3. A component that exports `trailwarden:plugin/rules` (contract 0.3.0): its catalog
//    (`rules()`, with the --config) has unique ids, each with a title, description, runbook
//    and ATT&CK technique ids (T1234 or T1234.001), and responses among
//    `describe().capabilities`; every rule id the fixtures raise is catalogued, and every
//    capability called for an event is a response of a rule of that event's findings. A
//    component without it (0.2.0, 0.1.0) has no catalog: that is noted, not a failure.
//
// This is a stand-in until the host runs 0.2.0 components (`trailwarden test`); the host's
// normaliser and pattern matcher remain the reference. Prints `N passed, N failed`.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const jsRoot = path.dirname(here);
const repo = path.resolve(jsRoot, '../..');
const witFile = path.join(repo, 'wit/0.2.0/plugin.wit');

// Node 20 needs a flag for the extended constant expressions componentize-py emits.
const EXT_CONST = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 6, 9, 1, 127, 0, 65, 1, 65, 1, 106, 11]);
if (!WebAssembly.validate(EXT_CONST) && !process.env.TW_CHECK_REEXEC) {
  const r = spawnSync(process.execPath, ['--experimental-wasm-extended-const', ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, TW_CHECK_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------

const args = process.argv.slice(2);
let wasm;
let importsOnly = false;
let allowWasi = false;
let configText = '{}';
const fixtureFiles = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--imports-only') importsOnly = true;
  else if (a === '--allow-wasi') allowWasi = true;
  else if (a === '--config') configText = args[++i];
  else if (a === '-h' || a === '--help') {
    console.log('usage: check-component.mjs PLUGIN.wasm [--imports-only] [--allow-wasi] [--config JSON] [FIXTURE.json ...]');
    process.exit(0);
  } else if (!wasm) wasm = a;
  else fixtureFiles.push(a);
}
if (!wasm) {
  console.error('usage: check-component.mjs PLUGIN.wasm [--imports-only] [--allow-wasi] [--config JSON] [FIXTURE.json ...]');
  process.exit(2);
}
const jco = path.join(jsRoot, 'node_modules/.bin/jco');
if (!fs.existsSync(jco)) {
  console.error(`error: ${jco} is missing: run \`npm ci --prefix ${path.relative(process.cwd(), jsRoot) || '.'}\``);
  process.exit(127);
}

let passed = 0;
let failed = 0;
function ok(what) {
  passed++;
  console.log(`  ok    ${what}`);
}
function fail(what, details = []) {
  failed++;
  console.log(`  FAIL  ${what}`);
  for (const d of details) console.log(`          ${d}`);
}
function finish() {
  console.log(`${path.basename(wasm)}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// ---------------------------------------------------------------------------------------
// 1. Component, imports, exports
// ---------------------------------------------------------------------------------------

const bytes = fs.readFileSync(wasm);
const magic = bytes.subarray(0, 4).toString('latin1') === '\0asm';
const layer = bytes.length >= 8 ? bytes.readUInt16LE(6) : -1;
console.log(`${wasm}: ${bytes.length} bytes (${(bytes.length / 1048576).toFixed(2)} MiB)`);
if (!magic || layer !== 1) {
  fail(magic ? 'is a core module, not a component (layer 0)' : 'is not WebAssembly');
  finish();
}
ok('is a component (\\0asm, layer 1)');

const witOut = spawnSync(jco, ['wit', wasm], { encoding: 'utf8' });
if (witOut.status !== 0) {
  fail('jco wit', [witOut.stderr.trim()]);
  finish();
}
const lines = witOut.stdout.split('\n');
const worldStart = lines.findIndex((l) => /^world /.test(l));
const imports = [];
const exports = [];
for (const l of lines.slice(worldStart)) {
  const m = /^ {2}(import|export) (.+?)(?:;|: )/.exec(l);
  if (m) (m[1] === 'import' ? imports : exports).push(m[2].trim());
}
console.log(`  imports: ${imports.join(', ')}`);
console.log(`  exports: ${exports.join(', ')}`);
const foreign = imports.filter((i) => !/^trailwarden:plugin\/[a-z0-9-]+@0\.2\.0$/.test(i));
const wasi = foreign.filter((i) => i.startsWith('wasi:'));
if (foreign.length === 0) ok('imports only trailwarden:plugin/*@0.2.0');
else if (allowWasi && foreign.length === wasi.length) ok(`imports trailwarden:plugin/*@0.2.0 and ${wasi.length} WASI interfaces (allowed)`);
else fail('imports outside trailwarden:plugin/*@0.2.0', foreign);
for (const e of ['describe', 'handle']) {
  if (exports.includes(e)) ok(`exports ${e}`);
  else fail(`does not export ${e}`);
}
const rulesExport = exports.find((e) => /^trailwarden:plugin\/rules@/.test(e));
if (importsOnly) finish();

// ---------------------------------------------------------------------------------------
// 2. The host, played by this script
// ---------------------------------------------------------------------------------------

/** `interface NAME { ... fn: func(a: t, b: t) -> receipt; }`: param names per capability. */
function capabilitySignatures() {
  const text = fs.readFileSync(witFile, 'utf8');
  const sigs = {};
  const ifaceRe = /interface ([a-z0-9-]+) \{([\s\S]*?)\n\}/g;
  let m;
  while ((m = ifaceRe.exec(text))) {
    const [, iface, body] = m;
    const fnRe = /([a-z][a-z0-9-]*): func\(([^)]*)\) -> receipt;/g;
    let f;
    while ((f = fnRe.exec(body))) {
      const params = f[2].split(',').map((p) => p.trim().split(':')[0].trim().replace(/^%/, '')).filter(Boolean);
      sigs[`${iface}.${f[1]}`] = { iface, fn: f[1], params };
    }
  }
  return sigs;
}
const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const host = {
  config: configText,
  now: 0,
  kv: new Map(),
  logs: [],
  calls: [],
  receipts: null, // expected actions of the running fixture, or null: answer dry-run
};
globalThis.__trailwardenHost = host;

function live(key) {
  const item = host.kv.get(key);
  if (!item) return undefined;
  if (item.expires !== null && host.now >= item.expires) {
    host.kv.delete(key);
    return undefined;
  }
  return item;
}
function findingJson(f) {
  let context = null;
  try {
    context = JSON.parse(f.context);
  } catch {
    context = null;
  }
  return {
    rule_id: f.ruleId,
    severity: f.severity,
    title: f.title,
    description: f.description,
    resources: f.resources,
    dedup_key: f.dedupKey,
    event_id: f.eventId,
    context,
  };
}
function argJson(v) {
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'ruleId' in v && 'dedupKey' in v) return findingJson(v);
  return v;
}

const hostImpl = {
  log: {
    log(level, message) {
      host.logs.push([level, message]);
      if (process.env.TW_CHECK_VERBOSE) console.log(`          log ${level}: ${message}`);
    },
  },
  config: { get: () => host.config },
  state: {
    get: (key) => live(key)?.value,
    set(key, value, ttl) {
      host.kv.set(key, { value, expires: ttl === undefined || ttl === null ? null : host.now + Number(ttl) });
    },
    delete: (key) => void host.kv.delete(key),
    increment(key, delta, ttl) {
      const item = live(key);
      const total = BigInt(item ? item.value : 0) + BigInt(delta);
      const expires = item ? item.expires : ttl === undefined || ttl === null ? null : host.now + Number(ttl);
      host.kv.set(key, { value: total.toString(), expires });
      return total;
    },
  },
};
for (const [capability, sig] of Object.entries(capabilitySignatures())) {
  const iface = (hostImpl[camel(sig.iface)] ??= {});
  iface[camel(sig.fn)] = (...values) => {
    const args = {};
    sig.params.forEach((p, i) => {
      if (p !== 'event-id') args[p] = argJson(values[i]);
    });
    const n = host.calls.length;
    host.calls.push({ capability, event_id: values[0], args });
    const expected = host.receipts ? host.receipts[n] : { receipt: 'dry-run' };
    // A listed action answers with its receipt, `accepted` by default (as the host's fixture
    // runner and the Rust SDK's do); a call the fixture does not list is denied.
    const receipt = expected ? (expected.receipt ?? 'accepted') : 'denied';
    const id = `action-${n + 1}`;
    switch (receipt) {
      case 'accepted':
        return { tag: 'accepted', val: id };
      case 'dry-run':
        return { tag: 'dry-run', val: id };
      case 'pending-approval':
        return { tag: 'pending-approval', val: id };
      default:
        return { tag: 'denied', val: expected ? 'denied by the fixture' : 'not expected by the fixture' };
    }
  };
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'trailwarden-check-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
fs.symlinkSync(path.join(jsRoot, 'node_modules'), path.join(scratch, 'node_modules'));
fs.writeFileSync(
  path.join(scratch, 'host.mjs'),
  Object.keys(hostImpl)
    .map((name) => `export const ${name} = globalThis.__trailwardenHostImpl[${JSON.stringify(name)}];`)
    .join('\n') + '\n',
);
globalThis.__trailwardenHostImpl = hostImpl;
const transpiled = spawnSync(
  jco,
  ['transpile', path.resolve(wasm), '-o', path.join(scratch, 'out'), '--name', 'plugin', '--no-typescript',
    '--map', 'trailwarden:plugin/*=../host.mjs#*'],
  { encoding: 'utf8' },
);
if (transpiled.status !== 0) {
  fail('jco transpile', [transpiled.stderr.trim() || transpiled.stdout.trim()]);
  finish();
}
let plugin;
let instances = 0;
/** A new instance (the module under a new URL is evaluated, hence instantiated, again). */
async function instantiate() {
  instances++;
  return import(`${pathToFileURL(path.join(scratch, 'out/plugin.js')).href}?instance=${instances}`);
}
const t0 = performance.now();
try {
  plugin = await instantiate();
} catch (e) {
  fail('instantiates under Node', [String(e)]);
  finish();
}
console.log(`  instantiated under Node in ${(performance.now() - t0).toFixed(0)} ms`);

// ---------------------------------------------------------------------------------------
// describe()
// ---------------------------------------------------------------------------------------

let descriptor;
try {
  descriptor = plugin.describe();
} catch (e) {
  fail('describe()', [String(e)]);
  finish();
}
const descriptorProblems = [];
const patterns = [];
for (const p of descriptor.patterns) {
  try {
    patterns.push(JSON.parse(p));
  } catch (e) {
    descriptorProblems.push(`pattern is not JSON: ${p}`);
  }
}
const shipped = [];
for (const [i, f] of descriptor.fixtures.entries()) {
  try {
    shipped.push(JSON.parse(f));
  } catch (e) {
    descriptorProblems.push(`shipped fixture ${i} is not JSON`);
  }
}
if (descriptorProblems.length) fail('describe()', descriptorProblems);
else
  ok(`describe(): ${descriptor.name} ${descriptor.version}, ${patterns.length} pattern(s), ` +
    `capabilities [${descriptor.capabilities.join(', ')}], ${shipped.length} shipped fixture(s)`);

// ---------------------------------------------------------------------------------------
// rules(): the rule catalog (0.3.0)
// ---------------------------------------------------------------------------------------

const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
/** rule id -> its entry, or null when the component has no catalog. */
let catalog = null;
if (!rulesExport) {
  console.log('  no rule catalog (no trailwarden:plugin/rules export: a 0.2.0 or 0.1.0 component)');
} else {
  let rules;
  try {
    // jco names an exported interface by its short name and by its full name.
    rules = (plugin.rules ?? plugin[rulesExport]).rules();
  } catch (e) {
    fail('rules()', [String(e)]);
    finish();
  }
  const problems = [];
  catalog = new Map();
  for (const r of rules) {
    const id = r.id || '(no id)';
    if (!r.id) problems.push(`a rule without an id: ${JSON.stringify(r).slice(0, 200)}`);
    else if (catalog.has(r.id)) problems.push(`${id}: catalogued twice`);
    else catalog.set(r.id, r);
    for (const field of ['title', 'description', 'runbook']) {
      if (typeof r[field] !== 'string' || r[field].trim() === '') problems.push(`${id}: no ${field}`);
    }
    if (!SEVERITIES.includes(r.severity)) problems.push(`${id}: severity ${JSON.stringify(r.severity)}`);
    if (!Array.isArray(r.techniques) || r.techniques.length === 0) problems.push(`${id}: no ATT&CK technique`);
    else for (const t of r.techniques) if (!/^T\d{4}(\.\d{3})?$/.test(t)) problems.push(`${id}: ${JSON.stringify(t)} is not an ATT&CK technique id (T1562.008)`);
    for (const c of r.response ?? []) {
      if (!descriptor.capabilities.includes(c)) problems.push(`${id}: response ${c} is not in describe().capabilities`);
    }
  }
  if (problems.length) fail('rules()', problems);
  else
    ok(`rules(): ${catalog.size} rule(s): ` +
      [...catalog.values()].map((r) => `${r.id} (${r.severity}, ${r.techniques.join('/')}${r.refused ? ', refused' : ''})`).join(', '));
}

/** What a fixture run did against the catalog: raised rule ids, calls outside the responses. */
function catalogProblems(found, calls) {
  if (!catalog) return [];
  const problems = [];
  for (const f of found) {
    if (!catalog.has(f.rule_id)) problems.push(`rule id ${f.rule_id} raised, not in rules()`);
  }
  for (const call of calls) {
    const rulesOfEvent = found.filter((f) => f.event_id === call.event_id).map((f) => f.rule_id);
    const allowed = rulesOfEvent.flatMap((id) => catalog.get(id)?.response ?? []);
    if (!allowed.includes(call.capability))
      problems.push(`${call.capability} called for ${call.event_id}, not a response in rules() of ` +
        `${rulesOfEvent.length ? rulesOfEvent.join(', ') : 'any finding of that event'}`);
  }
  return [...new Set(problems)];
}

// ---------------------------------------------------------------------------------------
// Normalising and routing (a small stand-in for the host's)
// ---------------------------------------------------------------------------------------

const text = (v) =>
  typeof v === 'string' ? (v === '' ? undefined : v) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
const accountId = (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v).padStart(12, '0') : text(v));
function boolean(v) {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', 'yes', '1'].includes(s)) return true;
    if (['false', 'no', '0'].includes(s)) return false;
  }
  if (v === 1) return true;
  if (v === 0) return false;
  return undefined;
}
const at = (v, ...keys) => keys.reduce((o, k) => (o && typeof o === 'object' && !Array.isArray(o) ? o[k] : undefined), v);
function detailTypeFor(eventType) {
  return (
    {
      AwsConsoleSignIn: 'AWS Console Sign In via CloudTrail',
      AwsServiceEvent: 'AWS Service Event via CloudTrail',
      AwsConsoleAction: 'AWS Console Action via CloudTrail',
    }[eventType] ?? 'AWS API Call via CloudTrail'
  );
}

/** One fixture input as `{event (WIT, jco form), envelope (EventBridge form), seconds}`. */
function normalise(input) {
  let value = input;
  if (value && typeof value.CloudTrailEvent === 'string') value = JSON.parse(value.CloudTrailEvent);
  let env = {};
  if (value && typeof value === 'object' && value.detail && typeof value.detail === 'object' && 'detail-type' in value) {
    env = value;
    value = value.detail;
  }
  const record = Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('@')));
  const ident = at(record, 'userIdentity') ?? {};
  const issuer = at(ident, 'sessionContext', 'sessionIssuer');
  const principal = {
    type: text(ident.type),
    arn: text(ident.arn),
    accountId: accountId(ident.accountId),
    userName: text(ident.userName) ?? text(at(issuer, 'userName')),
    accessKeyId: text(ident.accessKeyId),
    sessionIssuerArn: text(at(issuer, 'arn')),
    invokedBy: text(ident.invokedBy),
  };
  const id = text(record.eventID) ?? `synthetic-${JSON.stringify(record).length}`;
  const time = text(record.eventTime) ?? text(value['@timestamp']) ?? text(env.time);
  const account = accountId(record.recipientAccountId) ?? principal.accountId ?? accountId(env.account);
  const region = text(record.awsRegion) ?? text(env.region);
  const eventType = text(record.eventType);
  const event = {
    id,
    time,
    source: text(record.eventSource),
    name: text(record.eventName),
    region,
    account,
    principal,
    mfaAuthenticated:
      boolean(at(record, 'userIdentity', 'sessionContext', 'attributes', 'mfaAuthenticated')) ??
      boolean(at(record, 'additionalEventData', 'MFAUsed')),
    sourceIp: text(record.sourceIPAddress),
    userAgent: text(record.userAgent),
    errorCode: text(record.errorCode),
    errorMessage: text(record.errorMessage),
    readOnly: boolean(record.readOnly),
    eventType,
    selfCaused: false,
    raw: JSON.stringify(record),
  };
  const service = /^([a-z0-9._-]+)\.amazonaws\.com$/.exec(event.source ?? '');
  const envelope = {
    version: '0',
    id,
    'detail-type': text(env['detail-type']) ?? detailTypeFor(eventType),
    ...(service ? { source: `aws.${service[1] === 'monitoring' ? 'cloudwatch' : service[1]}` } : {}),
    ...(account ? { account } : {}),
    ...(time ? { time } : {}),
    ...(region ? { region } : {}),
    resources: [],
    detail: record,
  };
  const ms = time ? Date.parse(time.includes('T') ? time : time.replace(' ', 'T') + (/[zZ]|[+-]\d\d:?\d\d$/.test(time) ? '' : 'Z')) : NaN;
  return { event, envelope, seconds: Number.isNaN(ms) ? 0 : Math.floor(ms / 1000) };
}

function matchValue(rule, value) {
  const values = Array.isArray(value) ? value : [value];
  return rule.some((r) => {
    if (r === null || typeof r !== 'object') return values.some((v) => v === r);
    if ('exists' in r) return (value !== undefined) === r.exists;
    if ('prefix' in r) return values.some((v) => typeof v === 'string' && v.startsWith(r.prefix));
    if ('suffix' in r) return values.some((v) => typeof v === 'string' && v.endsWith(r.suffix));
    if ('equals-ignore-case' in r)
      return values.some((v) => typeof v === 'string' && v.toLowerCase() === String(r['equals-ignore-case']).toLowerCase());
    if ('anything-but' in r) {
      const ab = Array.isArray(r['anything-but']) ? r['anything-but'] : [r['anything-but']];
      return value !== undefined && values.every((v) => !ab.includes(v));
    }
    return true; // other operators: not modelled here
  });
}
function matches(pattern, obj) {
  return Object.entries(pattern).every(([k, rule]) => {
    const v = obj && typeof obj === 'object' ? obj[k] : undefined;
    if (Array.isArray(rule)) return matchValue(rule, v);
    if (rule && typeof rule === 'object') return matches(rule, v);
    return false;
  });
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

function deepEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b) || (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null &&
    !Array.isArray(a) && !Array.isArray(b) && Object.keys(a).length === Object.keys(b).length &&
    Object.keys(a).every((k) => deepEqual(a[k], b[k])));
}
/** `want` is a subset of `have`: objects by their listed keys (recursively), the rest equal. */
function subset(want, have) {
  if (want && typeof want === 'object' && !Array.isArray(want)) {
    return have && typeof have === 'object' && !Array.isArray(have) && Object.entries(want).every(([k, v]) => subset(v, have[k]));
  }
  return deepEqual(want, have);
}
function compareFindings(expected, actual) {
  const used = actual.map(() => false);
  const differences = [];
  for (const want of expected) {
    const i = actual.findIndex((have, j) => !used[j] && Object.entries(want).every(([k, v]) => deepEqual(v, have[k])));
    if (i >= 0) used[i] = true;
    else differences.push(`- expected, not raised: ${JSON.stringify(want)}`);
  }
  actual.forEach((have, j) => {
    if (!used[j]) differences.push(`+ raised, not expected: ${JSON.stringify({ rule_id: have.rule_id, event_id: have.event_id, title: have.title })}`);
  });
  return differences;
}
function compareActions(expected, calls) {
  const differences = [];
  const n = Math.max(expected.length, calls.length);
  for (let i = 0; i < n; i++) {
    const want = expected[i];
    const have = calls[i];
    if (!want) differences.push(`+ called, not expected: ${have.capability} ${JSON.stringify(have.args).slice(0, 200)}`);
    else if (!have) differences.push(`- expected, not called: ${want.capability} ${JSON.stringify(want.args ?? {})}`);
    else if (want.capability !== have.capability || !subset(want.args ?? {}, have.args))
      differences.push(`~ call ${i + 1}: expected ${want.capability} ${JSON.stringify(want.args ?? {})}, got ${have.capability} ${JSON.stringify(have.args).slice(0, 300)}`);
  }
  return differences;
}

async function runFixture(fixture, mode) {
  host.kv = new Map();
  host.calls = [];
  host.logs = [];
  host.now = 0;
  host.receipts = Array.isArray(fixture.actions) ? fixture.actions : null;
  const routed = fixture.events.map(normalise).filter(({ envelope }) => patterns.some((p) => matches(p, envelope)));
  const batches = mode === 'batch' ? [routed] : routed.map((e) => [e]);
  const found = [];
  for (const batch of batches) {
    if (batch.length === 0) continue;
    if (mode === 'batch') host.now = 0;
    else host.now = Math.max(host.now, ...batch.map((e) => e.seconds));
    let result;
    try {
      result = plugin.handle(batch.map((e) => e.event));
    } catch (e) {
      // An `err` result arrives as a ComponentError with its payload; a trap as an Error.
      if (e && e.payload !== undefined) return [`handle returned an error: ${JSON.stringify(e.payload)}`];
      // A trapped instance cannot be entered again: the next fixture gets a fresh one (the
      // host runs every batch in a fresh instance anyway).
      plugin = await instantiate();
      return [`handle trapped: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e)}`];
    }
    found.push(...result.map(findingJson));
  }
  const differences = compareFindings(fixture.findings, found);
  if (Array.isArray(fixture.actions)) differences.push(...compareActions(fixture.actions, host.calls));
  differences.push(...catalogProblems(found, host.calls));
  return differences;
}

const fixtures = fixtureFiles.length
  ? fixtureFiles.map((f) => ({ label: path.basename(f), fixture: JSON.parse(fs.readFileSync(f, 'utf8')) }))
  : shipped.map((fixture, i) => ({ label: `shipped #${i + 1}`, fixture }));
if (fixtures.length === 0) fail('no fixtures: neither shipped by describe() nor named');
for (const { label, fixture } of fixtures) {
  for (const mode of ['batch', 'per-event']) {
    const differences = await runFixture(fixture, mode);
    const what = `${label} [${mode}] ${fixture.name}`;
    if (differences.length) fail(what, differences);
    else ok(what);
  }
}
finish();
