// Unit tests of the pure logic (sg.js) under Node: `node --test plugins/js/sg-open-world/test/`.
// The component itself is checked against the fixtures by plugins/js/tools/check-component.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

import { catalog, coveredPorts, detect, isWorld, openRules, portRange, readConfig, RULE_ID } from '../sg.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const { settings: DEFAULTS } = readConfig('{}');

function event(record, extra = {}) {
  return {
    id: record.eventID ?? 'e1',
    name: record.eventName,
    account: record.recipientAccountId,
    region: record.awsRegion,
    principal: { arn: record.userIdentity?.arn },
    sourceIp: record.sourceIPAddress,
    userAgent: record.userAgent,
    errorCode: record.errorCode,
    raw: JSON.stringify(record),
    ...extra,
  };
}

function ingress(perms, response) {
  return {
    eventName: 'AuthorizeSecurityGroupIngress',
    recipientAccountId: '111122223333',
    awsRegion: 'us-east-1',
    requestParameters: { groupId: 'sg-1', ipPermissions: { items: perms } },
    responseElements: response ?? { _return: true },
  };
}

test('world CIDRs', () => {
  for (const c of ['0.0.0.0/0', '::/0', '0::/0', ' 0.0.0.0/0 ']) assert.ok(isWorld(c), c);
  for (const c of ['0.0.0.0/1', '10.0.0.0/8', '0.0.0.0/16', '::/1', '', undefined, 'pl-1']) assert.ok(!isWorld(c), String(c));
});

test('port ranges and protocols', () => {
  assert.deepEqual(portRange('-1'), { all: true });
  assert.deepEqual(portRange(-1), { all: true });
  assert.deepEqual(portRange('tcp', '22', '22'), { from: 22, to: 22 });
  assert.deepEqual(portRange('6', 3400, 3000), { from: 3000, to: 3400 });
  assert.deepEqual(portRange('udp'), { from: 0, to: 65535 });
  assert.equal(portRange('icmp', -1, -1), null);
  assert.equal(portRange('50'), null);
  assert.deepEqual(coveredPorts({ from: 1000, to: 5000 }, DEFAULTS.ports), [1433, 3306, 3389]);
  assert.deepEqual(coveredPorts({ all: true }, [22]), [22]);
});

test('every fixture event parses; the rules of the positive fixtures are found', () => {
  for (const name of fs.readdirSync(fixtures).filter((n) => n.endsWith('.json'))) {
    const fixture = JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8'));
    const records = fixture.events.map((e) => e.detail ?? e).filter((r) => !r.errorCode);
    const open = records.flatMap((r) => openRules(r, DEFAULTS.ports));
    assert.equal(open.length > 0, fixture.findings.length > 0, name);
  }
});

test('request and response describe the same rule once, with its id', () => {
  const record = ingress(
    [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }],
    {
      securityGroupRuleSet: {
        items: [
          { groupId: 'sg-1', securityGroupRuleId: 'sgr-1', isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' },
          { groupId: 'sg-1', securityGroupRuleId: 'sgr-2', isEgress: true, ipProtocol: '-1', cidrIpv4: '0.0.0.0/0' },
        ],
      },
    },
  );
  const open = openRules(record, DEFAULTS.ports);
  assert.equal(open.length, 1);
  assert.equal(open[0].ruleId, 'sgr-1');
  assert.deepEqual(open[0].ports, [22]);
});

test('the old top-level cidrIp form', () => {
  const record = {
    eventName: 'AuthorizeSecurityGroupIngress',
    requestParameters: { groupName: 'web', cidrIp: '0.0.0.0/0', ipProtocol: 'tcp', fromPort: 3389, toPort: 3389, ipPermissions: {} },
  };
  assert.deepEqual(openRules(record, DEFAULTS.ports).map((r) => [r.groupId, r.ports]), [['web', [3389]]]);
});

test('ModifySecurityGroupRules with a list of rules', () => {
  const record = {
    eventName: 'ModifySecurityGroupRules',
    requestParameters: {
      ModifySecurityGroupRulesRequest: {
        GroupId: 'sg-9',
        SecurityGroupRule: [
          { SecurityGroupRuleId: 'sgr-a', SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, CidrIpv4: '0.0.0.0/0' } },
          { SecurityGroupRuleId: 'sgr-b', SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, CidrIpv6: '::/0' } },
        ],
      },
    },
  };
  assert.deepEqual(openRules(record, DEFAULTS.ports).map((r) => [r.ruleId, r.ports]), [['sgr-a', [6379]]]);
});

test('::/0 alone opens a group, in every shape CloudTrail records', () => {
  // AuthorizeSecurityGroupIngress request: ipv6Ranges only.
  const request = ingress([{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: {}, ipv6Ranges: { items: [{ cidrIpv6: '::/0' }] } }]);
  assert.deepEqual(openRules(request, DEFAULTS.ports).map((r) => [r.cidr, r.ports]), [['::/0', [22]]]);
  // Its response alone (a request shape we do not read): securityGroupRuleSet with cidrIpv6.
  const response = ingress([], {
    securityGroupRuleSet: { items: [{ groupId: 'sg-1', securityGroupRuleId: 'sgr-6', isEgress: false, ipProtocol: 'tcp', fromPort: 3389, toPort: 3389, cidrIpv6: '::/0' }] },
  });
  assert.deepEqual(openRules(response, DEFAULTS.ports).map((r) => [r.ruleId, r.ports]), [['sgr-6', [3389]]]);
  // ModifySecurityGroupRules: CidrIpv6.
  const modify = {
    eventName: 'ModifySecurityGroupRules',
    requestParameters: {
      ModifySecurityGroupRulesRequest: {
        GroupId: 'sg-9',
        SecurityGroupRule: { SecurityGroupRuleId: 'sgr-c', SecurityGroupRule: { IpProtocol: '-1', CidrIpv6: '::/0' } },
      },
    },
  };
  assert.deepEqual(openRules(modify, DEFAULTS.ports).map((r) => [r.ruleId, r.cidr]), [['sgr-c', '::/0']]);
  const f = detect(event(modify), DEFAULTS);
  assert.ok(f.description.includes('::/0'), f.description);
  // A narrower IPv6 range is not the world.
  const narrow = ingress([{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipv6Ranges: { items: [{ cidrIpv6: '2001:db8::/32' }] } }]);
  assert.deepEqual(openRules(narrow, DEFAULTS.ports), []);
});

test('the rule catalog follows the config', () => {
  const [rule, ...more] = catalog(DEFAULTS);
  assert.equal(more.length, 0);
  assert.equal(rule.id, RULE_ID);
  assert.equal(rule.severity, 'high');
  assert.deepEqual(rule.techniques, ['T1562.007']);
  assert.ok(rule.title && rule.description && rule.runbook);
  assert.deepEqual(rule.response, ['notify.send']);
  assert.ok(rule.description.includes('security-team'), rule.description);
  assert.ok(rule.description.includes('22 (SSH)'), rule.description);
  const quiet = catalog(readConfig('{"notify": false, "ports": [8080]}').settings)[0];
  assert.deepEqual(quiet.response, []);
  assert.ok(quiet.description.includes('8080') && !quiet.description.includes('SSH'), quiet.description);
  // Every rule id a fixture expects is catalogued.
  for (const name of fs.readdirSync(fixtures).filter((n) => n.endsWith('.json'))) {
    const fixture = JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8'));
    for (const f of fixture.findings) assert.equal(f.rule_id, RULE_ID, name);
  }
});

test('a finding: fields, resources, context', () => {
  const record = ingress([{ ipProtocol: '-1', ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
  const f = detect(event(record, { id: 'ev-7' }), DEFAULTS);
  assert.equal(f.ruleId, RULE_ID);
  assert.equal(f.severity, 'high');
  assert.equal(f.eventId, 'ev-7');
  assert.equal(f.title, 'Security group sg-1 open to the internet on all traffic in account 111122223333');
  assert.deepEqual(f.resources, ['arn:aws:ec2:us-east-1:111122223333:security-group/sg-1']);
  assert.equal(f.dedupKey, `${RULE_ID}:111122223333:us-east-1:sg-1`);
  const ctx = JSON.parse(f.context);
  assert.equal(ctx.all_traffic, true);
  assert.deepEqual(ctx.ports, [22, 1433, 3306, 3389, 5432, 6379, 9200, 27017]);
  assert.deepEqual(ctx.rules[0].cidr, '0.0.0.0/0');
  // China and GovCloud partitions
  const cn = detect(event({ ...record, awsRegion: 'cn-north-1' }), DEFAULTS);
  assert.deepEqual(cn.resources, ['arn:aws-cn:ec2:cn-north-1:111122223333:security-group/sg-1']);
});

test('config: ports, target, notify, and bad values fall back', () => {
  let { settings, problems } = readConfig('{"ports": [8080, 22, 22], "notify_target": "soc", "notify": false}');
  assert.deepEqual(settings, { ports: [22, 8080], notifyTarget: 'soc', notify: false });
  assert.deepEqual(problems, []);
  ({ settings, problems } = readConfig('{"ports": ["22"], "notify_target": "", "notify": "yes", "target": "x"}'));
  assert.deepEqual(settings, DEFAULTS);
  assert.equal(problems.length, 4);
  assert.equal(readConfig('nope').problems.length, 1);
  assert.equal(readConfig('[]').problems.length, 1);
  const record = ingress([{ ipProtocol: 'tcp', fromPort: 8080, toPort: 8080, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
  assert.equal(detect(event(record), DEFAULTS), null);
  assert.ok(detect(event(record), readConfig('{"ports": [8080]}').settings));
});

test('failed calls, other events and unreadable records raise nothing', () => {
  const record = ingress([{ ipProtocol: '-1', ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
  assert.ok(detect(event(record), DEFAULTS));
  assert.equal(detect(event(record, { errorCode: 'UnauthorizedOperation' }), DEFAULTS), null);
  assert.equal(detect(event(record, { name: 'RevokeSecurityGroupIngress' }), DEFAULTS), null);
  assert.equal(detect(event(record, { raw: 'not json' }), DEFAULTS), null);
  assert.equal(detect(event(record, { raw: 'null' }), DEFAULTS), null);
});
