import { createDynamoAuditStore } from '../../adapters/dynamodb/audit-store.js';
import { createDocumentClient } from '../../adapters/dynamodb/client.js';
import { createDynamoCompanyStore } from '../../adapters/dynamodb/company-store.js';
import { createDynamoSessionStore } from '../../adapters/dynamodb/session-store.js';
import { createDynamoTenantStore } from '../../adapters/dynamodb/tenant-store.js';
import { createDynamoTokenStore } from '../../adapters/dynamodb/token-store.js';
import type { AdapterKit } from '../runtime.js';

/** The table's stores (tenants, companies, tokens, sessions, audit trail): every function uses some. */
export const dynamoStores: AdapterKit = {
  name: 'dynamodb',
  build: ({ config, client }) => {
    const doc = client('dynamodb', createDocumentClient);
    const table = config.tableName;
    return {
      tenants: createDynamoTenantStore({ doc, table }),
      companies: createDynamoCompanyStore({ doc, table }),
      tokens: createDynamoTokenStore({ doc, table }),
      sessions: createDynamoSessionStore({ doc, table }),
      audit: createDynamoAuditStore({ doc, table }),
    };
  },
};
