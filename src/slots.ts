// Hash tags: on a Redis Cluster, the keys one script touches must live in the
// same slot. A chat's keys (conversation, dedupe marks, held-replies mark,
// guess counter and lock) and the set of replies it may owe share the tag of
// the chat's bucket. Buckets,
// not one tag per chat, so that the owed-replies set is a fixed number of keys
// the recovery can read; 256 of them spread evenly over any practical number
// of masters. On a single server the tags change nothing.
export const CHAT_BUCKETS = 256;

/** FNV-1a: cheap and well spread over short ids like "telegram:123456". */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The hash tag of a chat's keys, e.g. "{c17}". */
export const chatTag = (conv: string) => `{c${fnv1a(conv) % CHAT_BUCKETS}}`;

/** Every chat tag (the recovery reads each bucket's owed replies). */
export const allChatTags = () => Array.from({ length: CHAT_BUCKETS }, (_, i) => `{c${i}}`);
