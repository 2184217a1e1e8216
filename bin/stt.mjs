#!/usr/bin/env node
// npm bin `stt`: the command-line client in src/cli.ts, run through tsx (a production dependency).
// tsx's register() needs module.register: Node >= 20.6 (on 20.5 tsx says so and exits).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
try {
  await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`stt: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
