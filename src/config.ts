import { z } from 'zod';
import { isRedisUrl } from './redis.js';

/** Thrown when the environment cannot be turned into a configuration. Names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (s) => {
        try {
          return protocols.includes(new URL(s).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );

const positiveNumber = (def: number) => z.coerce.number().positive('must be a positive number').default(def);
const wholeNumber = (min: number, max: number, def: number) => {
  const says = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number().int(says).min(min, says).max(max, says).default(def);
};

// A 32-byte key written as 64 hex characters or as base64.
const key32 = z
  .string()
  .trim()
  .transform((s, ctx) => {
    const buf = /^[0-9a-fA-F]{64}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
    if (buf.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, as 64 hex characters or base64' });
      return z.NEVER;
    }
    return buf;
  })
  .optional();

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_BASE_URL: url(['http:', 'https:']).default('http://localhost:3000'),
  REDIS_URL: z
    .string()
    .trim()
    .refine(isRedisUrl, 'must be redis://, rediss://, or redis-cluster://host:port,host:port (rediss-cluster:// with TLS)')
    .optional(),
  MONGODB_URI: url(['mongodb:', 'mongodb+srv:']).optional(),
  ROLE: z.enum(['web', 'worker', 'all']).default('all'),
  /** Express's "trust proxy": which proxies' X-Forwarded-For to believe for the client address (rate limits per address). */
  TRUST_PROXY: z.string().default('loopback'),
  TRY_IT: z.enum(['auto', 'on', 'off']).default('auto'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),

  TELEGRAM_BOT_TOKEN: optionalString.pipe(
    z
      .string()
      .regex(/^\d+:[A-Za-z0-9_-]+$/, 'must look like 123456:ABC-token')
      .optional(),
  ),
  TELEGRAM_BOT_USERNAME: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_]{5,32}$/, 'must be the bot username without @')
      .optional(),
  ),
  TELEGRAM_WEBHOOK_SECRET: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z a-z 0-9 _ -')
      .optional(),
  ),
  TELEGRAM_API_ROOT: url(['http:', 'https:']).default('https://api.telegram.org'),

  ZALO_APP_ID: optionalString,
  ZALO_APP_SECRET: optionalString,
  ZALO_OA_ID: optionalString,
  ZALO_OA_NAME: optionalString,
  ZALO_OA_SECRET_KEY: optionalString,
  ZALO_ACCESS_TOKEN: optionalString,
  ZALO_REFRESH_TOKEN: optionalString,
  ZALO_OA_API_BASE: url(['http:', 'https:']).default('https://openapi.zalo.me'),
  ZALO_OAUTH_BASE: url(['http:', 'https:']).default('https://oauth.zaloapp.com'),
  ZALO_ZNS_API_BASE: url(['http:', 'https:']).default('https://business.openapi.zalo.me'),

  PSEUDONYM_KEY: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  DATA_ENCRYPTION_KEY: key32,
  /** The key before a rotation: still read, never written (`npm run admin -- data:reencrypt` moves the data to the new key). */
  DATA_ENCRYPTION_KEY_PREVIOUS: key32,

  TELEGRAM_SEND_RATE: positiveNumber(29),
  TELEGRAM_SEND_CHAT_INTERVAL_MS: positiveNumber(1000),
  TELEGRAM_SEND_TIMEOUT_MS: positiveNumber(15_000),
  ZALO_SEND_RATE: positiveNumber(60),
  /** Webhook updates per second (all processes) from which the database jobs step aside for intake; 0: never. */
  INTAKE_BUSY_RATE: z.coerce.number().min(0, 'must be 0 (never) or a positive number').default(200),
  /** Ballots each worker process records at once. */
  COMPLETION_CONCURRENCY: wholeNumber(1, 64, 8),
});

export type Env = z.infer<typeof envSchema>;

export interface TelegramConfig {
  token: string;
  webhookSecret: string;
  apiRoot: string;
  sendRate: number;
  chatIntervalMs: number;
  /** A Bot API call with no answer by then is retried from the queue. */
  sendTimeoutMs: number;
}

export interface Config {
  port: number;
  host: string;
  publicBaseUrl: string;
  redisUrl: string | undefined;
  mongodbUri: string | undefined;
  role: 'web' | 'worker' | 'all';
  trustProxy: string;
  logLevel: Env['LOG_LEVEL'];
  /** The /try simulator: on, off, or auto (on when no chat channel is configured). */
  tryIt: Env['TRY_IT'];
  /** undefined: the channel is disabled, with `disabledReason` saying why. */
  telegram: TelegramConfig | undefined;
  telegramDisabledReason: string | undefined;
  /** For t.me deep links; known even where this process does not run the Telegram channel (ROLE=web of another bot). */
  telegramUsername: string | undefined;
  pseudonymKey: string | undefined;
  dataEncryptionKey: Buffer | undefined;
  previousDataEncryptionKey: Buffer | undefined;
  zaloSendRate: number;
  intakeBusyRate: number;
  completionConcurrency: number;
  zalo: Omit<Pick<Env, `ZALO_${string}` & keyof Env>, 'ZALO_SEND_RATE'>;
}

/**
 * What the image (NODE_ENV=production) cannot do without, and why: the defaults and local fallbacks are for a
 * development machine (it starts no local servers; keys made by each process would give one respondent other
 * pseudonyms in each, and leave what one process sealed unreadable to the rest).
 */
const REQUIRED_IN_PRODUCTION = {
  PUBLIC_BASE_URL: 'the links and QR codes on the slips would point at localhost',
  REDIS_URL: 'no local Redis is started in production',
  MONGODB_URI: 'no local database is started in production',
  PSEUDONYM_KEY: 'every process must pseudonymize with the same key',
  DATA_ENCRYPTION_KEY: 'every process must seal and open data with the same key',
} as const;

/** Parses the environment once. Throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '?');
        const value = env[name];
        // Never echo secrets back; a value is shown only for harmless variables.
        const shown = value !== undefined && !/TOKEN|SECRET|KEY/.test(name) ? ` (got "${value}")` : '';
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  const e = parsed.data;
  if (env.NODE_ENV === 'production') {
    const missing = (Object.keys(REQUIRED_IN_PRODUCTION) as (keyof typeof REQUIRED_IN_PRODUCTION)[]).filter((k) => !env[k]?.trim());
    if (missing.length) throw new ConfigError(missing.map((k) => `${k}: must be set when NODE_ENV=production (${REQUIRED_IN_PRODUCTION[k]})`));
  }
  const tgMissing = (['TELEGRAM_BOT_TOKEN', 'TELEGRAM_WEBHOOK_SECRET'] as const).filter((k) => !e[k]);
  return {
    port: e.PORT,
    host: e.HOST,
    publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    redisUrl: e.REDIS_URL,
    mongodbUri: e.MONGODB_URI,
    role: e.ROLE,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    tryIt: e.TRY_IT,
    telegram:
      tgMissing.length === 0
        ? {
            token: e.TELEGRAM_BOT_TOKEN!,
            webhookSecret: e.TELEGRAM_WEBHOOK_SECRET!,
            apiRoot: e.TELEGRAM_API_ROOT.replace(/\/+$/, ''),
            sendRate: e.TELEGRAM_SEND_RATE,
            chatIntervalMs: e.TELEGRAM_SEND_CHAT_INTERVAL_MS,
            sendTimeoutMs: e.TELEGRAM_SEND_TIMEOUT_MS,
          }
        : undefined,
    telegramDisabledReason: tgMissing.length ? `${tgMissing.join(' and ')} not set` : undefined,
    telegramUsername: e.TELEGRAM_BOT_USERNAME,
    pseudonymKey: e.PSEUDONYM_KEY,
    dataEncryptionKey: e.DATA_ENCRYPTION_KEY,
    previousDataEncryptionKey: e.DATA_ENCRYPTION_KEY_PREVIOUS,
    zaloSendRate: e.ZALO_SEND_RATE,
    intakeBusyRate: e.INTAKE_BUSY_RATE,
    completionConcurrency: e.COMPLETION_CONCURRENCY,
    zalo: {
      ZALO_APP_ID: e.ZALO_APP_ID,
      ZALO_APP_SECRET: e.ZALO_APP_SECRET,
      ZALO_OA_ID: e.ZALO_OA_ID,
      ZALO_OA_NAME: e.ZALO_OA_NAME,
      ZALO_OA_SECRET_KEY: e.ZALO_OA_SECRET_KEY,
      ZALO_ACCESS_TOKEN: e.ZALO_ACCESS_TOKEN,
      ZALO_REFRESH_TOKEN: e.ZALO_REFRESH_TOKEN,
      ZALO_OA_API_BASE: e.ZALO_OA_API_BASE,
      ZALO_OAUTH_BASE: e.ZALO_OAUTH_BASE,
      ZALO_ZNS_API_BASE: e.ZALO_ZNS_API_BASE,
    },
  };
}
