import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addBrokerStacks, PROJECT_ROOT, type BrokerStacks } from '../../infra/broker-app.js';
import { resolveStageConfig, type StageConfig } from '../../infra/stages.js';

/** Bundling is skipped, so every function can point at one stub file (functions/ may not exist yet). */
export const STUB_ENTRY = fileURLToPath(new URL('./fixtures/stub-handler.ts', import.meta.url));

export interface Synthesized extends BrokerStacks {
  app: App;
  config: StageConfig;
  dataTemplate: Template;
  serviceTemplate: Template;
}

/** Synthesizes one stage the way `cdk synth` would (cdk.json feature flags, cdk-nag), minus bundling. */
export function synthStage(context: Record<string, unknown>): Synthesized {
  const cdkJson = JSON.parse(readFileSync(`${PROJECT_ROOT}/cdk.json`, 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ context: { ...cdkJson.context, ...context, 'aws:cdk:bundling-stacks': [] } });
  const config = resolveStageConfig((key) => app.node.tryGetContext(key));
  const stacks = addBrokerStacks(app, config, { entryFor: () => STUB_ENTRY });
  // As in infra/app.ts: an unacknowledged finding makes Template.fromStack throw with the report.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return {
    app,
    config,
    ...stacks,
    dataTemplate: Template.fromStack(stacks.data),
    serviceTemplate: Template.fromStack(stacks.service),
  };
}

type Cfn = Record<string, any>;

/** Renders a CloudFormation value as a string, intrinsics as `${…}` placeholders. */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flat).join(',');
  if (value && typeof value === 'object') {
    const v = value as Cfn;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(flat).join(sep);
    }
    if ('Ref' in v) return `\${${v.Ref}}`;
    if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
    return `\${${Object.keys(v)[0]}}`;
  }
  return String(value);
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Cfn;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Policy statements grouped by the logical id of the role they are attached to. */
export function statementsByRole(template: Template): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as Cfn[]) {
    const statements = policy.Properties.PolicyDocument.Statement as Statement[];
    for (const role of policy.Properties.Roles as Array<{ Ref: string }>) {
      byRole.set(role.Ref, [...(byRole.get(role.Ref) ?? []), ...statements]);
    }
  }
  return byRole;
}
