#!/usr/bin/env node
// The `mec` command. The project is TypeScript run through tsx: register its loader, then hand over.
import { register } from 'tsx/esm/api';

register();
await import('../services/cli/main.ts');
