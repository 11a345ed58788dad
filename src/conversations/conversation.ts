import type { Session } from '../engine/interpreter.js';

export type ChannelName = 'telegram' | 'zalo' | 'web';

/** What a survey needs to start: which flow, for which invitation, with which context. */
export interface SurveyStart {
  ref: string;
  flow: string;
  ctx: Record<string, string>;
}

/** The Redis record of one chat: the current (or last) survey and a pending offer to switch. */
export interface Conversation {
  s?: Session;
  /** A second invitation opened while `s` was in progress: waiting for "keep" or "new". */
  offer?: SurveyStart;
}

export const conversationKey = (channel: ChannelName, userKey: string) => `${channel}:${userKey}`;
