// The scenarios, in the order `npm run stress` runs them.
import * as hostile from './1-hostile.mjs';
import * as slowClients from './2-slow-clients.mjs';

export const SCENARIOS = [
  { number: 1, ...hostile },
  { number: 2, ...slowClients },
];
