/**
 * A function role's policy as the synthesized template states it, with its CloudFormation values
 * resolved to the local stack's names, and a small evaluator of IAM's rules for it: an explicit Deny
 * wins, else an Allow whose action, resource and conditions all match. Only what the broker's templates
 * use is understood (Action/Resource lists with `*` and `?`, StringEquals, StringLike and ArnLike, and
 * their ForAllValues: forms on a multivalued key such as dynamodb:LeadingKeys; a key policy's AWS
 * principals); anything else
 * throws, so a new policy shape cannot pass by being misread.
 */
import type { CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { AwsLocation, IamRequest } from '../support/aws-actions.js';
import { statementsByRole, type Statement, type Synthesized } from './synth.js';

type Cfn = Record<string, any>;

/** Names the local stack gives the resources the templates create. */
export interface LocalResources extends AwsLocation {
  tableName: string;
  eventBusName: string;
}

export interface ResolvedStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
  /** operator → condition key → accepted values */
  conditions: Record<string, Record<string, string[]>>;
}

/** The statements of the role of function `name` (logical ids from the service stack). */
export function functionStatements(s: Synthesized, name: string): Statement[] {
  const fn = s.service.functions.get(name);
  if (!fn) throw new Error(`no function ${name} in the service stack`);
  const logicalId = s.service.getLogicalId(fn.node.defaultChild as CfnElement);
  const resource = s.serviceTemplate.toJSON().Resources[logicalId] as Cfn;
  const roleId = (resource.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
  return statementsByRole(s.serviceTemplate).get(roleId) ?? [];
}

/** Resolves the CloudFormation values of either stack's template to the local stack's names. */
function resolver(s: Synthesized, local: LocalResources) {
  const stacks: Array<{ stack: Stack; template: Template }> = [
    { stack: s.service, template: s.serviceTemplate },
    { stack: s.data, template: s.dataTemplate },
  ];
  const resolve = (value: unknown, where = stacks[0]!): string => {
    if (typeof value === 'string') return value;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`cannot resolve ${JSON.stringify(value)}`);
    const v = value as Cfn;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolve(p, where)).join(sep);
    }
    if ('Ref' in v) return pseudo(v.Ref as string) ?? localValue(where.template, v.Ref as string, 'Ref');
    if ('Fn::GetAtt' in v) {
      const [id, attribute] = v['Fn::GetAtt'] as [string, string];
      return localValue(where.template, id, attribute);
    }
    if ('Fn::GetStackOutput' in v) {
      const { StackName, OutputName } = v['Fn::GetStackOutput'] as { StackName: string; OutputName: string };
      const source = stacks.find((x) => x.stack.stackName === StackName);
      const output = source?.template.toJSON().Outputs?.[OutputName] as Cfn | undefined;
      if (!source || !output) throw new Error(`no output ${OutputName} on ${StackName}`);
      return resolve(output.Value, source);
    }
    if ('Fn::ImportValue' in v) {
      const exportName = resolve(v['Fn::ImportValue'], where);
      for (const source of stacks) {
        for (const output of Object.values((source.template.toJSON().Outputs ?? {}) as Record<string, Cfn>)) {
          if (output.Export && resolve(output.Export.Name, source) === exportName) return resolve(output.Value, source);
        }
      }
      throw new Error(`no export ${exportName}`);
    }
    throw new Error(`cannot resolve ${Object.keys(v)[0]}`);
  };

  const pseudo = (ref: string): string | undefined =>
    ({ 'AWS::Partition': 'aws', 'AWS::Region': local.region, 'AWS::AccountId': local.account, 'AWS::URLSuffix': 'amazonaws.com' })[ref];

  const arn = (service: string, resource: string) => `arn:aws:${service}:${local.region}:${local.account}:${resource}`;
  /** What a resource of the template is called locally: the stack creates one of each of these. */
  const localValue = (template: Template, logicalId: string, attribute: string): string => {
    const type = (template.toJSON().Resources[logicalId] as Cfn | undefined)?.Type as string | undefined;
    const values: Record<string, Record<string, string>> = {
      'AWS::DynamoDB::Table': { Ref: local.tableName, Arn: arn('dynamodb', `table/${local.tableName}`) },
      'AWS::Events::EventBus': { Ref: local.eventBusName, Name: local.eventBusName, Arn: arn('events', `event-bus/${local.eventBusName}`) },
      'AWS::KMS::Key': { Arn: local.secretsKeyArn },
      'AWS::Logs::LogGroup': { Ref: logicalId, Arn: arn('logs', `log-group:${logicalId}:*`) },
    };
    const value = type ? values[type]?.[attribute] : undefined;
    if (value === undefined) throw new Error(`no local value for ${logicalId} (${type ?? 'unknown'}).${attribute}: add it in test/infra/policy.ts`);
    return value;
  };

  return { resolve, data: stacks[1]! };
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function resolveStatement(raw: Statement & Cfn, resolve: (value: unknown) => string): ResolvedStatement {
  const conditions: ResolvedStatement['conditions'] = {};
  for (const [operator, keys] of Object.entries((raw.Condition ?? {}) as Record<string, Record<string, unknown>>)) {
    conditions[operator] = Object.fromEntries(Object.entries(keys).map(([key, values]) => [key, list(values).map((x) => resolve(x))]));
  }
  return {
    effect: raw.Effect as 'Allow' | 'Deny',
    actions: list(raw.Action) as string[],
    resources: list(raw.Resource).map((r) => resolve(r)),
    conditions,
  };
}

/** The policy of function `name`'s role with every intrinsic resolved against `local`. */
export function resolvedPolicy(s: Synthesized, name: string, local: LocalResources): ResolvedStatement[] {
  const { resolve } = resolver(s, local);
  return functionStatements(s, name).map((statement) => {
    const raw = statement as Statement & Cfn;
    for (const unsupported of ['NotAction', 'NotResource', 'NotPrincipal', 'Principal']) {
      if (unsupported in raw) throw new Error(`${name}: ${unsupported} in a role policy is not understood by test/infra/policy.ts`);
    }
    return resolveStatement(raw, resolve);
  });
}

/**
 * The secrets key's policy (data stack), each statement narrowed to the principals it names: a KMS
 * request must be allowed by it as well as by the role. A statement naming the account (`…:root`)
 * delegates to IAM for every principal of the account, its conditions (aws:PrincipalArn) deciding which.
 */
export function resolvedKeyPolicy(s: Synthesized, local: LocalResources): Array<ResolvedStatement & { principals: string[] }> {
  const { resolve, data } = resolver(s, local);
  const keys = Object.values(data.template.findResources('AWS::KMS::Key')) as Cfn[];
  if (keys.length !== 1) throw new Error(`expected one KMS key in the data stack, found ${keys.length}`);
  return (keys[0]!.Properties.KeyPolicy.Statement as Array<Statement & Cfn>).map((raw) => {
    for (const unsupported of ['NotAction', 'NotResource', 'NotPrincipal']) {
      if (unsupported in raw) throw new Error(`key policy: ${unsupported} is not understood by test/infra/policy.ts`);
    }
    const principal = raw.Principal as Cfn | undefined;
    if (!principal || Object.keys(principal).some((k) => k !== 'AWS')) throw new Error(`key policy: principal ${JSON.stringify(principal)} is not understood`);
    const r = (value: unknown) => resolve(value, data);
    return { ...resolveStatement(raw, r), principals: list(principal.AWS).map(r) };
  });
}

/** A key policy's verdict for `request` made by `principalArn` (the role ARN; the request carries it as aws:PrincipalArn). */
export function keyPolicyAllows(policy: Array<ResolvedStatement & { principals: string[] }>, principalArn: string, request: IamRequest): boolean {
  const account = /^arn:[^:]+:iam::(\d{12}):/.exec(principalArn)?.[1];
  const applies = policy.filter((st) => st.principals.some((p) => p === principalArn || p === `arn:aws:iam::${account}:root`));
  const withPrincipal = { ...request, context: { ...request.context, 'aws:PrincipalArn': principalArn, 'kms:CallerAccount': account ?? '' } };
  return isAllowed(applies, withPrincipal);
}

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

/**
 * Single-valued operators need a single value; `ForAllValues:` ones a list, every member of which must
 * match one accepted value (an absent or empty list passes, as in IAM: the recorder never leaves out the
 * keys the broker's policies test).
 */
function conditionsHold(conditions: ResolvedStatement['conditions'], context: IamRequest['context']): boolean {
  return Object.entries(conditions).every(([operator, keys]) =>
    Object.entries(keys).every(([key, accepted]) => {
      const [qualifier, base] = operator.includes(':') ? operator.split(':') : [undefined, operator];
      if ((qualifier !== undefined && qualifier !== 'ForAllValues') || (base !== 'StringEquals' && base !== 'StringLike' && base !== 'ArnLike')) {
        throw new Error(`condition operator ${operator} is not understood by test/infra/policy.ts`);
      }
      const matches = (value: string) =>
        // ArnLike: IAM compares each ARN segment with wildcards; a whole-string match is the same for these patterns.
        base === 'StringEquals' ? accepted.includes(value) : accepted.some((pattern) => wildcardMatch(pattern, value));
      const value = context[key];
      if (qualifier === 'ForAllValues') {
        if (typeof value === 'string') throw new Error(`${key} is single-valued in the request but tested with ${operator}`);
        return (value ?? []).every(matches);
      }
      if (Array.isArray(value)) throw new Error(`${key} is multivalued in the request but tested with ${operator}`);
      // A key the request does not carry fails the condition (no IfExists operators here).
      if (value === undefined) return false;
      return matches(value);
    }),
  );
}

/** The statement that applies to `request` and the action it matched there. */
export interface Match {
  statement: ResolvedStatement;
  action: string;
}

/** Every statement of `policy` that covers `request` (action, resource and conditions). */
export function matchingStatements(policy: ResolvedStatement[], request: IamRequest): Match[] {
  const matches: Match[] = [];
  for (const statement of policy) {
    const action = statement.actions.find((a) => wildcardMatch(a, request.action, true));
    if (!action) continue;
    if (!statement.resources.some((r) => wildcardMatch(r, request.resource))) continue;
    if (!conditionsHold(statement.conditions, request.context)) continue;
    matches.push({ statement, action });
  }
  return matches;
}

/** IAM's verdict for one request: allowed when an Allow covers it and no Deny does. */
export function isAllowed(policy: ResolvedStatement[], request: IamRequest): boolean {
  const matches = matchingStatements(policy, request);
  return matches.some((m) => m.statement.effect === 'Allow') && !matches.some((m) => m.statement.effect === 'Deny');
}
