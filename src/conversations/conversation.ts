import type { ChannelName } from '../channels/registry.js';
import type { Session } from '../engine/interpreter.js';

export type { ChannelName };

/** Who a conversation is with: a channel and the platform's chat/user id (a string: Zalo ids exceed 2^53). */
export interface Respondent {
  channel: ChannelName;
  userKey: string;
}

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

export const conversationKey = (r: Respondent) => `${r.channel}:${r.userKey}`;

/** The respondent of a conversation key (user keys may contain ":", channel names do not). */
export function respondentOf(key: string): Respondent {
  const at = key.indexOf(':');
  return { channel: key.slice(0, at) as ChannelName, userKey: key.slice(at + 1) };
}
