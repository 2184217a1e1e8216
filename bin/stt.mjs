#!/usr/bin/env node
// npm bin `stt`: the command-line client in src/cli.ts, run through tsx (a production dependency).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
try {
  await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`stt: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
