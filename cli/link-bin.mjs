// `npm ci` links the bins of the dependencies into node_modules/.bin, not the project's own.
// This runs as the `prepare` script (npm ci and npm install run it) and links `tether` there
// too, so node_modules/.bin/tether, `npx tether` and `npm exec tether` work after `npm ci`
// whatever the npm version. It never fails the install: without the link, `npm run tether --`
// and `node cli/bin.mjs` still work.
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const binDir = join(root, 'node_modules', '.bin');
try {
  mkdirSync(binDir, { recursive: true });
  const link = join(binDir, 'tether');
  rmSync(link, { force: true });
  symlinkSync(join('..', '..', 'cli', 'bin.mjs'), link);
  chmodSync(join(root, 'cli', 'bin.mjs'), 0o755);
} catch (err) {
  console.warn(`tether: could not link node_modules/.bin/tether (${err.message}); use npm run tether --`);
}
