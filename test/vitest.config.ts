// vitest for the whole suite. Integration files each start a real stack (Redis, workers, API, nginx), so
// files run one at a time: two stacks at once on 2 cores would only make each slower.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // The cluster test makes network namespaces (root) and runs on its own: `npm run test:cluster`.
    exclude: ['test/cluster/**', '**/node_modules/**'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
