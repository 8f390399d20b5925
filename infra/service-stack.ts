import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DUE_INDEX_NAME, ENV, ESCROW_CONTEXT_PURPOSE, type EnvName } from '../shared/config/env-names.js';
import { FUNCTION_NAMES, NON_HTTP_FUNCTIONS, ROUTES } from '../shared/http/routes.js';
import { BrokerFunction } from './constructs/broker-function.js';
import { METRICS, Monitoring } from './constructs/monitoring.js';
import { FUNCTION_PROFILES } from './function-profiles.js';
import { nagResourceId } from './nag.js';
import { functionRolePath, invoiceBucketName, pascal } from './names.js';
import { kmsActionsFor, PERMISSIONS, tableStatements } from './permissions.js';
import type { StageConfig } from './stages.js';

export interface ServiceStackProps extends StackProps {
  config: StageConfig;
  table: dynamodb.ITable;
  secretsKey: kms.IKey;
  /** Directory holding package-lock.json (the repository root). */
  projectRoot: string;
  /** Handler file of a function; default `<projectRoot>/functions/<name>/handler.ts`. */
  entryFor?: (name: string) => string;
}

/** Environment variables the stack sets besides the shared ENV names. */
export const EXTRA_ENV = {
  POWERTOOLS_SERVICE_NAME: METRICS.service,
  POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
} as const;

/** The resources a stage's functions are pointed at (tokens in CDK, the local stack's values in tests). */
export interface FunctionResources {
  tableName: string;
  eventBusName: string;
  secretsKmsKeyId: string;
  invoiceBucketName: string;
  publicBaseUrl: string;
  returnUrlAllowlist: string;
}

/**
 * The environment every function gets (the construct adds FUNCTION_ENV_EXTRA). Exported so that
 * test/integration/bundles.test.ts runs the bundles with this very map.
 */
export function functionEnvironment(config: StageConfig, resources: FunctionResources) {
  return {
    [ENV.tableName]: resources.tableName,
    [ENV.secretPrefix]: config.secretPrefix,
    [ENV.eventBusName]: resources.eventBusName,
    [ENV.secretsKmsKeyId]: resources.secretsKmsKeyId,
    [ENV.invoiceBucketName]: resources.invoiceBucketName,
    [ENV.publicBaseUrl]: resources.publicBaseUrl,
    [ENV.anafOauthBaseUrl]: config.anafOauthBaseUrl,
    [ENV.anafApiBaseUrl]: config.anafApiBaseUrl,
    [ENV.anafPublicApiBaseUrl]: config.anafPublicApiBaseUrl,
    [ENV.anafEfacturaTimeoutMs]: String(config.anafEfacturaTimeoutMs),
    [ENV.returnUrlAllowlist]: resources.returnUrlAllowlist,
    [ENV.refreshMarginDays]: String(config.refreshMarginDays),
    [ENV.accessTokenMinValiditySeconds]: String(config.accessTokenMinValiditySeconds),
    [ENV.sweepConcurrency]: String(config.sweepConcurrency),
    [ENV.anafTimeoutMs]: String(config.anafTimeoutMs),
    [ENV.manualRefreshCooldownSeconds]: String(config.manualRefreshCooldownSeconds),
    [ENV.maxRotationsPerDay]: String(config.maxRotationsPerDay),
    // Empty (read as unset): no cap assumed.
    [ENV.anafRotationCap]: config.anafRotationCap === undefined ? '' : String(config.anafRotationCap),
    [ENV.anafLimitCallsPerMinute]: String(config.anafLimits.callsPerMinute),
    [ENV.anafLimitStatusPerMessagePerDay]: String(config.anafLimits.statusPerMessagePerDay),
    [ENV.anafLimitDownloadsPerMessagePerDay]: String(config.anafLimits.downloadsPerMessagePerDay),
    [ENV.anafLimitListsPerCuiPerDay]: String(config.anafLimits.listsPerCuiPerDay),
    [ENV.anafLimitPagedListsPerCuiPerDay]: String(config.anafLimits.pagedListsPerCuiPerDay),
    [ENV.anafLimitRaspPerCuiPerDay]: String(config.anafLimits.raspPerCuiPerDay),
    ...EXTRA_ENV,
  } satisfies Partial<Record<EnvName, string>> & typeof EXTRA_ENV;
}

const CALLBACK_FUNCTION = 'oauth-callback';
const ACCESS_TOKEN_FUNCTION = 'access-token-get';
const TENANT_ROUTES_PREFIX = '/v1/tenants/';

/** The functions the ERP cannot do without keep capacity of their own when the switch is on. */
function reservedConcurrencyOf(config: StageConfig, name: string): number | undefined {
  if (name === ACCESS_TOKEN_FUNCTION) return config.accessTokenReservedConcurrency;
  if (name === NON_HTTP_FUNCTIONS.sweep) return config.sweepReservedConcurrency;
  return undefined;
}

/**
 * The stateless half: HTTP API, one Lambda per entry point with its own least-privilege role, the
 * lifecycle event bus, the sweep schedule, alarms and dashboard.
 */
export class ServiceStack extends Stack {
  readonly api: apigwv2.HttpApi;
  readonly bus: events.EventBus;
  readonly functions = new Map<string, lambda.IFunction>();
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { config, table, secretsKey, projectRoot } = props;
    const invoiceBucket = invoiceBucketName(config.stage, this.account, this.region);
    const entryFor = props.entryFor ?? ((name: string) => `${projectRoot}/functions/${name}/handler.ts`);
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    assertMapsCoverFunctions();

    this.bus = new events.EventBus(this, 'LifecycleBus', {
      description: `anaf-broker ${config.stage}: connected, refreshed, refresh-failed, reauth-required, expiring, disconnected`,
    });

    // Created before the functions: their PUBLIC_BASE_URL points at it, and the routes come after them.
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: `anaf-broker ${config.stage}: ERP service routes (IAM) and browser OAuth routes`,
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logRetention, removalPolicy });
    const stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      // Every route gets settings of its own below; a route added without them falls on the tight side.
      throttle: { rateLimit: config.publicThrottleRate, burstLimit: config.publicThrottleBurst },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
    });

    const publicBaseUrl = config.publicBaseUrl ?? this.api.apiEndpoint;
    const returnUrlAllowlist =
      config.returnUrlOrigins.length > 0
        ? config.returnUrlOrigins.join(',')
        : config.publicBaseUrl
          ? new URL(config.publicBaseUrl).origin
          : this.api.apiEndpoint;

    const environment = functionEnvironment(config, {
      tableName: table.tableName,
      eventBusName: this.bus.eventBusName,
      secretsKmsKeyId: secretsKey.keyArn,
      invoiceBucketName: invoiceBucket,
      publicBaseUrl,
      returnUrlAllowlist,
    });

    const secretArnPattern = this.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${config.secretPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    for (const name of FUNCTION_NAMES) {
      const profile = FUNCTION_PROFILES[name]!;
      const permissions = PERMISSIONS[name]!;
      const broker = new BrokerFunction(this, pascal(name), {
        name,
        entry: entryFor(name),
        projectRoot,
        profile,
        environment,
        logRetention,
        removalPolicy,
        reservedConcurrentExecutions: config.reservedConcurrency ? reservedConcurrencyOf(config, name) : undefined,
        rolePath: functionRolePath(config.stage),
      });
      const { role } = broker;
      this.functions.set(name, broker.fn);

      // ForAllValues: every partition key a request names (each item of a transaction is its own
      // request) must match; the recorder in the grants test reads them from each request's Key, Item or
      // key condition, so a code path that touches another prefix fails there. ForAllValues passes a
      // request that names no key, which is why Scan (the one such item action) is never granted.
      for (const grant of tableStatements(permissions.table)) {
        role.addToPolicy(
          new iam.PolicyStatement({
            actions: grant.actions.map((action) => `dynamodb:${action}`),
            resources: [table.tableArn],
            conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': grant.prefixes.map((prefix) => `${prefix}*`) } },
          }),
        );
      }
      if (permissions.dueIndex.length > 0) {
        role.addToPolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:Query'],
            resources: [`${table.tableArn}/index/${DUE_INDEX_NAME}`],
            conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...permissions.dueIndex] } },
          }),
        );
      }
      if (permissions.secrets.length > 0) {
        role.addToPolicy(
          new iam.PolicyStatement({
            actions: permissions.secrets.map((action) => `secretsmanager:${action}`),
            resources: [secretArnPattern],
          }),
        );
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, secretArnPattern)}]`,
          reason: 'Secrets are created at run time, one per tenant client and per token; the wildcard is bounded by the stage secret-name prefix.',
        });
      }
      if (permissions.listSecrets) {
        role.addToPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'secretsmanager:ListSecrets supports no resource-level scoping (IAM accepts only "*"); the sweep lists names under the stage prefix to delete orphan token secrets, and a listing carries no secret value.',
        });
      }
      const kmsActions = kmsActionsFor(permissions.secrets);
      if (kmsActions.length > 0) {
        // Only through Secrets Manager, and only for secrets under the prefix (Secrets Manager puts the
        // secret ARN in the encryption context of every data key it asks KMS for).
        role.addToPolicy(
          new iam.PolicyStatement({
            actions: kmsActions,
            resources: [secretsKey.keyArn],
            conditions: {
              StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.${this.urlSuffix}` },
              StringLike: { 'kms:EncryptionContext:SecretARN': secretArnPattern },
            },
          }),
        );
      }
      if (permissions.pairEscrow.length > 0) {
        role.addToPolicy(
          new iam.PolicyStatement({
            actions: permissions.pairEscrow.map((action) => `kms:${action}`),
            resources: [secretsKey.keyArn],
            conditions: { StringEquals: { 'kms:EncryptionContext:purpose': ESCROW_CONTEXT_PURPOSE } },
          }),
        );
      }
      if (permissions.invoiceObjects.length > 0) {
        // Every tenant's keys: the code checks that a key is the request's tenant's and company's.
        const objects = `arn:${this.partition}:s3:::${invoiceBucket}/*`;
        role.addToPolicy(new iam.PolicyStatement({ actions: permissions.invoiceObjects.map((action) => `s3:${action}`), resources: [objects] }));
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, objects)}]`,
          reason: 'Invoice objects are named per upload (<tenantId>/<cui>/<uuid>.xml) at run time; the functions serve every tenant, and the code refuses a key outside the request\'s tenant and company.',
        });
      }
      if (permissions.putEvents) {
        role.addToPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [this.bus.eventBusArn] }));
      }
      Validations.of(broker.fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'Node.js 22 is pinned deliberately: the code is built and tested for it (esbuild target node22); runtime upgrades are a reviewed change.',
      });
    }

    const iamAuthorizer = new HttpIamAuthorizer();
    const integrations = new Map<string, HttpLambdaIntegration>();
    // CfnStage types RouteSettings as `any` and passes it through as is: CloudFormation's property names.
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const route of ROUTES) {
      let integration = integrations.get(route.fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${pascal(route.fn)}Integration`, this.functions.get(route.fn)!);
        integrations.set(route.fn, integration);
      }
      const added = this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration,
        authorizer: route.auth === 'service' ? iamAuthorizer : new apigwv2.HttpNoneAuthorizer(),
      });
      // One bucket per route: a flood of a browser route is refused there, never on the ERP's routes.
      routeSettings[`${route.method} ${route.path}`] =
        route.auth === 'public'
          ? { ThrottlingRateLimit: config.publicThrottleRate, ThrottlingBurstLimit: config.publicThrottleBurst }
          : { ThrottlingRateLimit: config.serviceThrottleRate, ThrottlingBurstLimit: config.serviceThrottleBurst };
      // CloudFormation refuses route settings that name a route it has not created yet.
      stage.node.addDependency(...added);
      if (route.auth === 'public') {
        for (const r of added) {
          Validations.of(r).acknowledge({
            id: 'AwsSolutions-APIG4',
            reason: 'Browser route of the OAuth flow (no AWS credentials in a browser); it acts only on a single-use, expiring session or state value.',
          });
        }
      }
    }

    (stage.node.defaultChild as apigwv2.CfnStage).routeSettings = routeSettings;

    const sweep = this.functions.get(NON_HTTP_FUNCTIONS.sweep)!;
    new events.Rule(this, 'SweepSchedule', {
      description: `anaf-broker ${config.stage}: daily refresh sweep`,
      schedule: events.Schedule.expression(config.sweepSchedule),
      targets: [new targets.LambdaFunction(sweep, { retryAttempts: 2, maxEventAge: Duration.hours(6) })],
    });

    this.monitoring = new Monitoring(this, 'Monitoring', { config, functions: this.functions, api: this.api });

    const callbackPath = ROUTES.find((r) => r.fn === CALLBACK_FUNCTION)!.path;
    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'HTTP API base URL (SigV4-signed calls, service execute-api)' });
    new CfnOutput(this, 'CallbackUrl', {
      value: `${publicBaseUrl}${callbackPath}`,
      description: 'Register this exact URL as the callback of the ANAF OAuth app',
    });
    new CfnOutput(this, 'TenantRoutesArnPrefix', {
      // Only the service routes live under /v1/tenants/; the stage and method segments are wildcards.
      value: this.formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `*/*${TENANT_ROUTES_PREFIX}` }),
      description:
        'execute-api:Invoke resource of the ERP role: append * for every tenant, or <tenantId>/* for one (README, "Calling it from the ERP backend")',
    });
    // The service routes outside /v1/tenants/: tenant-less calls to ANAF's public host (no token).
    const documentRoutes = ROUTES.filter((r) => r.auth === 'service' && !r.path.startsWith(TENANT_ROUTES_PREFIX));
    new CfnOutput(this, 'DocumentRoutesArns', {
      value: documentRoutes
        .map((r) => this.formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `*/${r.method}${r.path}` }))
        .join(','),
      description: 'execute-api:Invoke resources of POST /v1/validate and POST /v1/pdf (comma-separated): add them to the ERP role',
    });
    new CfnOutput(this, 'ManualRefreshFunctionName', {
      value: this.functions.get(NON_HTTP_FUNCTIONS.manualRefresh)!.functionName,
      description: 'Manual refresh: aws lambda invoke with {"tenantId":"...","cui":"..."} or {"tenantId":"...","tokenId":"..."}',
    });
    new CfnOutput(this, 'EventBusName', { value: this.bus.eventBusName, description: 'Lifecycle events (source anaf-broker)' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'Subscribe on-call here' });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
  }
}

/**
 * JSON access log with HTTP API variables only. `$context.path` has no query string, so the callback's
 * `code` and `state` never reach the logs.
 */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    time: '$context.requestTime',
    ip: '$context.identity.sourceIp',
    caller: '$context.identity.userArn',
    method: '$context.httpMethod',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    integrationStatus: '$context.integrationStatus',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
  }),
);

/** A function without a profile or permissions (or an entry for a function that no longer exists) fails synth. */
function assertMapsCoverFunctions(): void {
  const names = new Set(FUNCTION_NAMES);
  const problems: string[] = [];
  for (const [label, map] of [
    ['PERMISSIONS (infra/permissions.ts)', PERMISSIONS],
    ['FUNCTION_PROFILES (infra/function-profiles.ts)', FUNCTION_PROFILES],
  ] as const) {
    const missing = FUNCTION_NAMES.filter((n) => !(n in map));
    const extra = Object.keys(map).filter((n) => !names.has(n));
    if (missing.length) problems.push(`${label} lacks ${missing.join(', ')}`);
    if (extra.length) problems.push(`${label} lists unknown ${extra.join(', ')}`);
  }
  if (problems.length) throw new Error(`Function maps out of date: ${problems.join('; ')}`);
}
