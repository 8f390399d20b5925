import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startTestStack, type TestStack } from './stack.js';

/**
 * One local stack for a test file: started before its tests (handed to `onStart`), stopped after them,
 * and the emulator reset before each test (codes, tokens, failures, lifetimes, stats).
 */
export function useTestStack(onStart: (stack: TestStack) => void, env: Record<string, string> = {}): void {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    stack = await startTestStack(env);
    onStart(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });
  beforeEach(() => {
    stack?.emulator?.control.reset();
  });
}
