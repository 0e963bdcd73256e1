// The scenarios, in the order `npm run stress` runs them.
import * as hostile from './1-hostile.mjs';
import * as slowClients from './2-slow-clients.mjs';
import * as flood from './3-flood.mjs';
import * as checks from './4-checks.mjs';
import * as lifecycle from './5-lifecycle.mjs';
import * as load from './6-load.mjs';
import * as differential from './7-differential.mjs';
import * as grpc from './8-grpc.mjs';

export const SCENARIOS = [
  { number: 1, ...hostile },
  { number: 2, ...slowClients },
  { number: 3, ...flood },
  { number: 4, ...checks },
  { number: 5, ...lifecycle },
  { number: 6, ...load },
  { number: 7, ...differential },
  { number: 8, ...grpc },
];
