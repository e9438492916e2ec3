/** The `tether` process: runs the CLI on the process's arguments and streams, and exits with its code. */
import { run } from './program';

process.exitCode = await run(process.argv.slice(2), {
  out: process.stdout,
  err: process.stderr,
  env: process.env,
  stdin: process.stdin,
});
