import { resolve } from 'node:path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Charset, NodejsFunction, OutputFormat, SourceMapMode, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionProfile } from '../function-profiles.js';

/**
 * An ESM bundle that contains the AWS SDK (CommonJS inside) needs `require`; without this banner it
 * fails at load with `Dynamic require of "node:https" is not supported`.
 */
export const CREATE_REQUIRE_BANNER =
  "import{createRequire}from'module';const require=createRequire(import.meta.url);";

/**
 * Modules the bundles replace (each target's comment says why): the SDK's default credential chain by
 * the environment's credentials, the event-stream codec no client of ours uses, DynamoDB's endpoint
 * discovery (settings the client resolves and never uses) by its settings alone, the checksums by Node's
 * native ones alone. An alias target missing a name the SDK imports fails the build, not a cold start.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': resolve(import.meta.dirname, '../../shared/runtime/lambda-credentials.ts'),
  '@smithy/core/event-streams': resolve(import.meta.dirname, '../../shared/runtime/no-event-streams.ts'),
  '@aws-sdk/middleware-endpoint-discovery': resolve(import.meta.dirname, '../../shared/runtime/no-endpoint-discovery.ts'),
  '@smithy/core/checksum': resolve(import.meta.dirname, '../../shared/runtime/native-checksum.ts'),
};

/**
 * Functions that carry the S3 client: it imports the event-stream serde and the checksum fallbacks the
 * stand-ins leave out, so these bundles keep the SDK's own (a stand-in they needed would fail the build).
 */
export const S3_FUNCTIONS: ReadonlySet<string> = new Set(['efactura', 'invoice-uploads']);
const S3_KEEPS = new Set(['@smithy/core/event-streams', '@smithy/core/checksum']);

/** The aliases of one function's bundle (BUNDLE_ALIASES, less what its S3 client needs). */
export function bundleAliasesFor(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(BUNDLE_ALIASES).filter(([module]) => !(S3_FUNCTIONS.has(name) && S3_KEEPS.has(module))));
}

/** BUNDLING with one function's aliases. */
export function bundlingFor(name: string): BundlingOptions {
  return { ...BUNDLING, esbuildArgs: Object.fromEntries(Object.entries(bundleAliasesFor(name)).map(([module, target]) => [`--alias:${module}`, target])) };
}

/**
 * How every function is bundled. Exported so that test/integration/bundles.test.ts builds the same
 * bundles with esbuild (esbuildOptionsFor) and runs them, instead of the TypeScript tsx runs.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  platform: 'node',
  mainFields: ['module', 'main'],
  banner: CREATE_REQUIRE_BANNER,
  minify: true,
  sourceMap: true,
  // Linked (a sourceMappingURL comment), so --enable-source-maps finds the .map file.
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  charset: Charset.UTF8,
  // The bundle pins the SDK version the code was tested with instead of the runtime's copy, and loads
  // faster than the runtime's unbundled copy (README "Performance").
  bundleAwsSDK: true,
  esbuildArgs: Object.fromEntries(Object.entries(BUNDLE_ALIASES).map(([name, target]) => [`--alias:${name}`, target])),
} as const satisfies BundlingOptions;

/** Environment the construct adds to every function's (the source maps of BUNDLING). */
export const FUNCTION_ENV_EXTRA = { NODE_OPTIONS: '--enable-source-maps' } as const;

/**
 * esbuild's build options for the flags NodejsFunction passes for BUNDLING (aws-lambda-nodejs
 * bundling.ts): bundle, no externals (bundleAwsSDK), the aliases (esbuildArgs), `.mjs` output for ESM.
 */
export function esbuildOptionsFor(entry: string, outfile: string, name: string) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: BUNDLING.format,
    target: BUNDLING.target,
    platform: BUNDLING.platform,
    mainFields: [...BUNDLING.mainFields],
    banner: { js: BUNDLING.banner },
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap ? ('linked' as const) : false,
    sourcesContent: BUNDLING.sourcesContent,
    charset: BUNDLING.charset,
    external: [] as string[],
    alias: bundleAliasesFor(name),
  };
}

export interface BrokerFunctionProps {
  /** Folder name under functions/ (used in descriptions and logical ids). */
  name: string;
  /** Absolute path of the handler file exporting `handler`. */
  entry: string;
  /** Directory holding package-lock.json; the bundle is built from there. */
  projectRoot: string;
  profile: FunctionProfile;
  environment: Record<string, string>;
  logRetention: logs.RetentionDays;
  removalPolicy: RemovalPolicy;
  /** Capacity kept for this function alone (and its cap); default: none, the account's shared pool. */
  reservedConcurrentExecutions?: number;
  /** IAM path of the role (the secrets key policy trusts the roles under it). */
  rolePath: string;
}

/**
 * One entry point with the house defaults: Node 22 on ARM64, esbuild ESM bundle (SDK included, minified,
 * source maps), its own log group with retention, and its own role that can write only to that log group.
 * Callers add the function's permissions to `role`.
 */
export class BrokerFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BrokerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // An own role instead of AWSLambdaBasicExecutionRole: that managed policy may create log groups anywhere.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `anaf-broker ${props.name}`,
      path: props.rolePath,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.fn = new NodejsFunction(this, 'Fn', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.profile.memoryMb,
      timeout: Duration.seconds(props.profile.timeoutSeconds),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      description: props.profile.description,
      role: this.role,
      logGroup: this.logGroup,
      environment: { ...props.environment, ...FUNCTION_ENV_EXTRA },
      bundling: bundlingFor(props.name),
    });
  }
}
