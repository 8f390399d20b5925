import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The text cdk-nag uses for a resource in its finding ids (`AwsSolutions-IAM5[Resource::…]`): intrinsics
 * flattened the way its flattenCfnReference does (`<AWS::Region>`, `<Logical.Arn>`). Resolving through the
 * stack keeps the id right whether the stack has a concrete region/account or is environment-agnostic.
 */
export function nagResourceId(scope: IConstruct, value: string): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (node && typeof node === 'object') {
      const n = node as Record<string, unknown>;
      if ('Fn::Join' in n) {
        const [delimiter, items] = n['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if ('Ref' in n) return `<${visit(n.Ref)}>`;
      if ('Fn::GetAtt' in n) {
        const [resource, attribute] = n['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}
