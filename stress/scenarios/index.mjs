// The scenarios, in the order `npm run stress` runs them.
import * as hostile from './1-hostile.mjs';

export const SCENARIOS = [{ number: 1, ...hostile }];
