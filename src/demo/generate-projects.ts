// Writes examples/projects.json (the demo organisation's configs, for `npm start -- --no-control`) and examples/control.json (its control-plane definitions, what `npm start` serves); run once, the results are committed.

import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { demoControlDefinitions, demoProjectsFile } from './projects';

const target = process.argv[2] ?? path.join(__dirname, '..', '..', 'examples', 'projects.json');
writeFileSync(target, `${JSON.stringify(demoProjectsFile(new Date()), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
const control = process.argv[3] ?? path.join(path.dirname(target), 'control.json');
writeFileSync(control, `${JSON.stringify(demoControlDefinitions(), null, 2)}\n`);
process.stdout.write(`wrote ${control}\n`);
