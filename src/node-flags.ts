// The Node.js flags the service runs with. package.json's start script and the
// Dockerfile's CMD give them too (test/deploy.test.ts keeps the three in step).
//
// A larger young generation: a burst of webhooks allocates fast (HTTP, JSON,
// Redis replies, Bot API calls), and with V8's default 16 MB semi-space the
// scavenger took about a fifth of the service's CPU at 800 respondents. With
// 32 MB the webhook bench took 10-15 % more updates per second at about the
// same RSS (see README, Performance).
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=32'];
