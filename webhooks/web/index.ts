// The browser channel: the survey answered on web pages (src/http/pages/survey.ts).
// It has no webhook and no sender: each answer is a form post, and the reply is
// the page the post answers with.
import type { ChannelPlugin } from '../../src/channels/channel.js';

export const web: ChannelPlugin<'web'> = {
  name: 'web',
  display: { title: 'trình duyệt', sendsCode: false },
  handle: () => '',
  // No start link: the landing page offers it itself (a form).
  create: () => ({ inline: true }),
};
