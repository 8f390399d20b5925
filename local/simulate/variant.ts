/**
 * One run in a process of its own (the runtime is built once per process, against one moto): started by
 * `simulate.ts` with the options as JSON in argv; reports each day and the result over IPC.
 */
import type { SimulationOptions } from './options.js';
import { runSimulation } from './run.js';

const options = JSON.parse(process.argv[2] ?? '{}') as SimulationOptions;
// The parent went away (stopped, or a test timed out): stop moto and the emulator with it.
let stopStack: (() => Promise<void>) | undefined;
process.once('disconnect', () => {
  void (stopStack?.() ?? Promise.resolve()).finally(() => process.exit(1));
});
try {
  const result = await runSimulation(
    options,
    (day) => process.send?.({ day }),
    (stop) => {
      stopStack = stop;
    },
  );
  process.send?.({ result }, () => process.exit(0));
} catch (error) {
  process.send?.({ error: (error as Error)?.stack ?? String(error) }, () => process.exit(1));
}
