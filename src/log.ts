import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs; pretty when stdout is a terminal. Secrets and respondent ids are redacted by path. */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    redact: {
      paths: ['*.token', '*.secret', '*.password', '*.apiKey', '*.authorization', 'req.headers.authorization', '*.phone'],
      censor: '[redacted]',
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
