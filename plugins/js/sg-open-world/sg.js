// Pure logic of sg-open-world: which rules of a CloudTrail record open a security group to
// the whole internet on a sensitive port. No host calls here, so `node --test` runs it as is.

export const RULE_ID = 'aws.ec2.security-group-open-to-world';

export const DEFAULT_PORTS = [22, 3389, 3306, 5432, 1433, 6379, 9200, 27017];
export const DEFAULT_TARGET = 'security-team';

const PORT_NAMES = {
  22: 'SSH',
  23: 'Telnet',
  445: 'SMB',
  1433: 'SQL Server',
  1521: 'Oracle',
  2379: 'etcd',
  3306: 'MySQL',
  3389: 'RDP',
  5432: 'PostgreSQL',
  5601: 'Kibana',
  5900: 'VNC',
  6379: 'Redis',
  9200: 'Elasticsearch',
  11211: 'Memcached',
  27017: 'MongoDB',
};

/**
 * The rule catalog (WIT 0.3.0 `rules`) for `settings` (what `readConfig` returned): one rule,
 * whose response is `notify.send` to the configured target unless `notify` is off. Fields
 * as jco hands a WIT `rule-info` over (camelCase, `refused` absent).
 */
export function catalog(settings) {
  const sending = settings.notify ? `sent to ${settings.notifyTarget} with notify.send` : 'only reported (notify is off)';
  return [
    {
      id: RULE_ID,
      title: 'Security group opened to the internet',
      severity: 'high',
      // Impair Defenses: Disable or Modify Cloud Firewall.
      techniques: ['T1562.007'],
      description:
        'AuthorizeSecurityGroupIngress or ModifySecurityGroupRules let 0.0.0.0/0 or ::/0 in on ' +
        `all traffic or a sensitive port (${portList(settings.ports)}); the finding is ${sending}.`,
      runbook:
        'Ask the caller why the service must be reachable from anywhere; remove the rule or narrow it to known addresses.',
      response: settings.notify ? ['notify.send'] : [],
    },
  ];
}

/** The events this plugin reads. */
export const EVENT_NAMES = ['AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules'];

/**
 * Settings from the config JSON text (`{"ports": [22, ...], "notify_target": "security-team",
 * "notify": true}`, every key optional), with defaults, and the problems found in it. A bad
 * value is reported and replaced by its default: a typo must not silence the detection.
 */
export function readConfig(text) {
  const settings = { ports: DEFAULT_PORTS.slice().sort((a, b) => a - b), notifyTarget: DEFAULT_TARGET, notify: true };
  const problems = [];
  let table;
  try {
    table = text && text.trim() ? JSON.parse(text) : {};
  } catch (e) {
    return { settings, problems: [`config is not JSON (${e.message}); using defaults`] };
  }
  if (table === null || typeof table !== 'object' || Array.isArray(table)) {
    return { settings, problems: ['config is not a JSON object; using defaults'] };
  }
  if ('ports' in table) {
    const ports = table.ports;
    if (Array.isArray(ports) && ports.length > 0 && ports.every(isPort)) {
      settings.ports = [...new Set(ports)].sort((a, b) => a - b);
    } else {
      problems.push(`ports must be a non-empty list of port numbers, not ${JSON.stringify(ports)}`);
    }
  }
  // The same key as the Rust SDK's Config::notify_target.
  if ('notify_target' in table) {
    const t = table.notify_target;
    if (typeof t === 'string' && t !== '') settings.notifyTarget = t;
    else problems.push(`notify_target must be a non-empty string, not ${JSON.stringify(t)}`);
  }
  if ('notify' in table) {
    if (typeof table.notify === 'boolean') settings.notify = table.notify;
    else problems.push(`notify must be true or false, not ${JSON.stringify(table.notify)}`);
  }
  const unknown = Object.keys(table).filter((k) => !['ports', 'notify_target', 'notify'].includes(k));
  if (unknown.length) problems.push(`unknown config keys ignored: ${unknown.join(', ')}`);
  return { settings, problems };
}

function isPort(p) {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

/** `obj[key]` with the key matched case-insensitively (CloudTrail's casing varies by API). */
function get(obj, key) {
  if (obj === null || typeof obj !== 'object') return undefined;
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** The elements of an EC2 list: `{"items": [...]}`, a bare array, or one object. */
function items(value) {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (typeof value === 'object') {
    const inner = get(value, 'items') ?? get(value, 'item');
    if (inner !== undefined) return items(inner);
    return Object.keys(value).length ? [value] : [];
  }
  return [];
}

function toInt(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return parseInt(v, 10);
  return undefined;
}

/** Whether a CIDR is the whole address space (`0.0.0.0/0`, `::/0` and their spellings). */
export function isWorld(cidr) {
  if (typeof cidr !== 'string') return false;
  const [address, prefix] = cidr.trim().split('/');
  return prefix !== undefined && /^0+$/.test(prefix) && address !== '';
}

/**
 * The port range a rule opens: `{all: true}` for every protocol (`-1`), `{from, to}` for
 * TCP/UDP/SCTP, `null` for protocols without ports (ICMP, ESP, ...).
 */
export function portRange(protocol, fromPort, toPort) {
  const p = String(protocol ?? '').trim().toLowerCase();
  if (p === '-1' || p === 'all' || p === '') return { all: true };
  if (!['tcp', 'udp', 'sctp', '6', '17', '132'].includes(p)) return null;
  let from = toInt(fromPort);
  let to = toInt(toPort);
  if (from === undefined || from < 0) from = 0;
  if (to === undefined || to < 0) to = 65535;
  if (to < from) [from, to] = [to, from];
  return { from, to };
}

/** The sensitive ports a range covers. */
export function coveredPorts(range, ports) {
  if (!range) return [];
  if (range.all) return ports.slice();
  return ports.filter((p) => p >= range.from && p <= range.to);
}

/**
 * The ingress rules a record adds or changes, each
 * `{protocol, fromPort, toPort, cidr, ruleId?, groupId?, source}`, from every shape
 * CloudTrail uses:
 * - `AuthorizeSecurityGroupIngress` request: `ipPermissions.items[]` with
 *   `ipRanges.items[].cidrIp` / `ipv6Ranges.items[].cidrIpv6` (and the old top-level
 *   `cidrIp`/`ipProtocol`/`fromPort`/`toPort` form);
 * - its response since 2021: `securityGroupRuleSet.items[]` with `cidrIpv4`/`cidrIpv6`;
 * - `ModifySecurityGroupRules`: `ModifySecurityGroupRulesRequest.SecurityGroupRule[]`
 *   (`SecurityGroupRuleId`, `SecurityGroupRule: {IpProtocol, FromPort, ToPort, CidrIpv4,
 *   CidrIpv6}`).
 */
export function rulesOf(record) {
  const rules = [];
  const request = get(record, 'requestParameters') || {};
  const response = get(record, 'responseElements') || {};
  const name = get(record, 'eventName');
  if (name === 'AuthorizeSecurityGroupIngress') {
    const groupId = get(request, 'groupId') ?? get(request, 'groupName');
    for (const perm of items(get(request, 'ipPermissions'))) {
      const base = {
        protocol: get(perm, 'ipProtocol'),
        fromPort: get(perm, 'fromPort'),
        toPort: get(perm, 'toPort'),
        groupId,
        source: 'request',
      };
      for (const r of items(get(perm, 'ipRanges'))) {
        rules.push({ ...base, cidr: get(r, 'cidrIp') });
      }
      for (const r of items(get(perm, 'ipv6Ranges'))) {
        rules.push({ ...base, cidr: get(r, 'cidrIpv6') });
      }
    }
    const cidr = get(request, 'cidrIp');
    if (cidr !== undefined) {
      rules.push({
        protocol: get(request, 'ipProtocol'),
        fromPort: get(request, 'fromPort'),
        toPort: get(request, 'toPort'),
        cidr,
        groupId,
        source: 'request',
      });
    }
    for (const r of items(get(response, 'securityGroupRuleSet'))) {
      if (get(r, 'isEgress') === true || get(r, 'isEgress') === 'true') continue;
      const v4 = get(r, 'cidrIpv4');
      const v6 = get(r, 'cidrIpv6');
      for (const c of [v4, v6]) {
        if (c === undefined) continue;
        rules.push({
          protocol: get(r, 'ipProtocol'),
          fromPort: get(r, 'fromPort'),
          toPort: get(r, 'toPort'),
          cidr: c,
          ruleId: get(r, 'securityGroupRuleId'),
          groupId: get(r, 'groupId') ?? groupId,
          source: 'response',
        });
      }
    }
  } else if (name === 'ModifySecurityGroupRules') {
    const req = get(request, 'ModifySecurityGroupRulesRequest') ?? request;
    const groupId = get(req, 'GroupId');
    for (const entry of items(get(req, 'SecurityGroupRule'))) {
      const spec = get(entry, 'SecurityGroupRule') ?? entry;
      for (const key of ['CidrIpv4', 'CidrIpv6']) {
        const c = get(spec, key);
        if (c === undefined) continue;
        rules.push({
          protocol: get(spec, 'IpProtocol'),
          fromPort: get(spec, 'FromPort'),
          toPort: get(spec, 'ToPort'),
          cidr: c,
          ruleId: get(entry, 'SecurityGroupRuleId'),
          groupId,
          source: 'request',
        });
      }
    }
  }
  return rules;
}

/** The rules of a record open to the world on a sensitive port, each with its `ports`. */
export function openRules(record, ports) {
  const open = [];
  for (const rule of rulesOf(record)) {
    if (!isWorld(rule.cidr)) continue;
    const range = portRange(rule.protocol, rule.fromPort, rule.toPort);
    const covered = coveredPorts(range, ports);
    if (covered.length === 0) continue;
    // The response repeats the request's rules (with their ids): keep one of each.
    const key = [rule.groupId, String(rule.protocol).toLowerCase(), range.all ? 'all' : `${range.from}-${range.to}`, rule.cidr].join('|');
    const earlier = open.find((r) => r.key === key);
    if (earlier) {
      if (rule.ruleId && !earlier.ruleId) earlier.ruleId = rule.ruleId;
      continue;
    }
    open.push({ ...rule, key, range, ports: covered });
  }
  return open.map(({ key, ...rule }) => rule);
}

function portList(ports) {
  return ports.map((p) => (PORT_NAMES[p] ? `${p} (${PORT_NAMES[p]})` : String(p))).join(', ');
}

function partition(region) {
  if (region && region.startsWith('cn-')) return 'aws-cn';
  if (region && region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * The finding for one event (a WIT `event` as jco hands it: camelCase fields), or null.
 * `settings` is what `readConfig` returned.
 */
export function detect(event, settings) {
  if (!EVENT_NAMES.includes(event.name)) return null;
  if (event.errorCode || event.errorMessage) return null;
  let record;
  try {
    record = JSON.parse(event.raw);
  } catch {
    return null;
  }
  if (record === null || typeof record !== 'object') return null;
  const open = openRules(record, settings.ports);
  if (open.length === 0) return null;

  const account = event.account || event.principal?.accountId || 'unknown';
  const region = event.region || 'unknown';
  const groups = [...new Set(open.map((r) => r.groupId).filter(Boolean))];
  const groupText = groups.length ? groups.join(', ') : 'an unnamed security group';
  const allTraffic = open.some((r) => r.range.all);
  const ports = [...new Set(open.flatMap((r) => r.ports))].sort((a, b) => a - b);
  const cidrs = [...new Set(open.map((r) => r.cidr))];
  const actor = event.principal?.arn || event.principal?.userName || 'an unknown principal';
  const what = allTraffic ? 'all traffic' : `port${ports.length > 1 ? 's' : ''} ${portList(ports)}`;
  const verb = event.name === 'ModifySecurityGroupRules' ? 'changed a rule of' : 'opened';

  const arnBase = `arn:${partition(event.region)}:ec2:${region}:${account}`;
  const resources = groups.filter((g) => g.startsWith('sg-')).map((g) => `${arnBase}:security-group/${g}`);
  for (const r of open) {
    if (r.ruleId) {
      const arn = `${arnBase}:security-group-rule/${r.ruleId}`;
      if (!resources.includes(arn)) resources.push(arn);
    }
  }
  const modifyNote =
    event.name === 'ModifySecurityGroupRules'
      ? ' CloudTrail does not record whether a modified rule is inbound or outbound; check the rule.'
      : '';
  const description =
    `${actor} ${verb} security group ${groupText} in account ${account} (${region}) to ` +
    `${cidrs.join(' and ')} for ${what}${allTraffic ? ` (including ${portList(settings.ports)})` : ''}, ` +
    `from ${event.sourceIp || 'an unknown address'} with ${event.userAgent || 'an unknown client'} ` +
    `(${event.name}). Anyone on the internet can now reach these services: remove the rule ` +
    `or narrow it to known addresses unless the exposure is intended.${modifyNote}`;

  const context = {
    account,
    region: event.region ?? null,
    event_name: event.name,
    actor,
    source_ip: event.sourceIp ?? null,
    user_agent: event.userAgent ?? null,
    groups,
    all_traffic: allTraffic,
    ports,
    rules: open.map((r) => ({
      group_id: r.groupId ?? null,
      rule_id: r.ruleId ?? null,
      protocol: r.protocol === undefined ? null : String(r.protocol),
      from_port: r.range.all ? null : r.range.from,
      to_port: r.range.all ? null : r.range.to,
      cidr: r.cidr,
      sensitive_ports: r.ports,
    })),
  };
  return {
    ruleId: RULE_ID,
    severity: 'high',
    title: `Security group ${groupText} open to the internet on ${what} in account ${account}`,
    description,
    resources,
    dedupKey: `${RULE_ID}:${account}:${region}:${groups.join(',') || 'unknown'}`,
    eventId: event.id,
    context: JSON.stringify(context),
  };
}
