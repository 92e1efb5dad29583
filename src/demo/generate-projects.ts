// Writes examples/projects.json, the demo organisation `npm start` serves (run once; the result is committed).

import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { demoProjectsFile } from './projects';

const target = process.argv[2] ?? path.join(__dirname, '..', '..', 'examples', 'projects.json');
writeFileSync(target, `${JSON.stringify(demoProjectsFile(new Date()), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
