import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOCAL = fileURLToPath(new URL('../../local/', import.meta.url));

/**
 * `_cheap_sizes` (local/moto_server.py) replaces moto's item measure, which decides where a Query page or
 * a BatchGetItem answer stops. It must give moto's own figure for every kind of value: this measures
 * the same items with stock moto and with the replacement, in one Python process.
 */
const CHECK = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from moto.dynamodb.models.dynamo_type import DynamoType, Item
stock_value, stock_item = DynamoType.size, Item.size
import moto_server
items = [
  {"pk": {"S": "TENANT#t-1"}, "sk": {"S": "TOKEN#abc"}, "version": {"N": "17"}, "ratio": {"N": "-0.25"}},
  {"pk": {"S": "ținută ășț €"}, "on": {"BOOL": True}, "off": {"BOOL": False}, "none": {"NULL": True}},
  {"pk": {"S": "b"}, "blob": {"B": "aGVsbG8gd29ybGQ="}, "bins": {"BS": ["AAEC", "AwQF"]}},
  {"pk": {"S": "s"}, "cuis": {"SS": ["RO123", "12345678", "ă"]}, "ns": {"NS": ["1", "22", "-3.5"]}},
  {"pk": {"S": "l"}, "warnings": {"L": [{"S": "30d"}, {"N": "7"}, {"L": [{"BOOL": True}, {"M": {}}]}, {"NULL": True}]}},
  {"pk": {"S": "m"}, "disconnection": {"M": {"at": {"S": "2026-12-02T03:00:00.000Z"}, "reason": {"S": "REPLACED"},
     "cuis": {"L": [{"S": "RO1"}, {"S": "RO2"}]}, "auditedAt": {"NULL": True},
     "deep": {"M": {"a": {"M": {"b": {"M": {"c": {"SS": ["x", "yy"]}, "n": {"N": "123456789012345678901234567890"}}}}}}}}}},
  {"pk": {"S": ""}, "empty": {"L": []}, "emptyMap": {"M": {}}},
]
out = []
for raw in items:
    stock = Item(DynamoType(raw["pk"]), None, raw)
    cheap = Item(DynamoType(raw["pk"]), None, raw)
    before = [stock_item(stock)] + [stock_value(v) for v in stock.attrs.values()]
    moto_server._cheap_sizes()
    after = [cheap.size()] + [v.size() for v in cheap.attrs.values()]
    DynamoType.size, Item.size = stock_value, stock_item
    out.append({"stock": before, "cheap": after})
print(json.dumps(out))
`;

describe('moto item sizes (_cheap_sizes)', () => {
  it("measures every kind of value as stock moto does", () => {
    const results = JSON.parse(execFileSync('python3', ['-c', CHECK, LOCAL], { encoding: 'utf8' })) as Array<{ stock: number[]; cheap: number[] }>;
    expect(results).toHaveLength(7);
    for (const { stock, cheap } of results) {
      expect(cheap).toEqual(stock);
    }
    // The nested map's figure is non-trivial (a check against a constant 0 would pass the comparison above).
    expect(results[5]!.stock[0]).toBeGreaterThan(100);
  });
});
