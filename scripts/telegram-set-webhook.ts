// npm run telegram:set-webhook — registers <PUBLIC_BASE_URL>/webhooks/telegram with the secret.
import { loadConfig } from '../src/config.js';
import { createTelegramClient } from '../webhooks/telegram/outbound.js';

const config = loadConfig();
if (!config.telegram) {
  console.error(`Telegram is not configured: ${config.telegramDisabledReason}`);
  process.exit(2);
}
if (!config.publicBaseUrl.startsWith('https://')) console.warn(`warning: Telegram requires an https:// URL; PUBLIC_BASE_URL is ${config.publicBaseUrl}`);
const url = `${config.publicBaseUrl}/webhooks/telegram`;
const telegram = createTelegramClient(config.telegram.token, config.telegram.apiRoot, config.telegram.sendTimeoutMs);
try {
  await telegram.setWebhook(url, { secret_token: config.telegram.webhookSecret, allowed_updates: ['message', 'callback_query'], max_connections: 40 });
  const info = await telegram.getWebhookInfo();
  console.log(`webhook set: ${info.url} (pending updates: ${info.pending_update_count})`);
} catch (err) {
  console.error(`setWebhook failed: ${(err as Error).message}`);
  process.exit(1);
}
