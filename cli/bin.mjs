#!/usr/bin/env node
// The `tether` command (package.json "bin"). The CLI is TypeScript run as it is, with no
// build step: this registers tsx's ESM loader (a dependency), then runs cli/main.ts.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
