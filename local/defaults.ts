/** Resource names and region of the local stack (in AWS, CDK names them and passes them through env). */
export const LOCAL_DEFAULTS = {
  region: 'eu-central-1',
  tableName: 'anaf-broker-local',
  eventBusName: 'anaf-broker-local',
  invoiceBucketName: 'anaf-broker-local-invoices',
  secretPrefix: 'anaf-broker/local/',
  kmsAlias: 'alias/anaf-broker-local',
} as const;
