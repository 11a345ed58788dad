// The questionnaire model. Flows are data (flows/*.yaml); this schema is the
// only place that knows their shape.
import { z } from 'zod';
import { type Messages, SOURCE_LANGUAGE, VI_MESSAGES } from './messages.js';

export const optionSchema = z.strictObject({
  value: z.union([z.string().min(1), z.number()]),
  label: z.string().min(1).max(100),
  /** Extra typed forms that select this option (compared after normalization). */
  aliases: z.array(z.string()).default([]),
  /** An answer left out of every denominator ("Không góp ý, phản ánh", "Không đủ thông tin để đánh giá"). */
  excluded: z.boolean().default(false),
});

export type Condition = { question: string | string[]; in: Array<string | number> } | { all: Condition[] } | { any: Condition[] } | { not: Condition };

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({ question: z.union([z.string(), z.array(z.string()).min(1)]), in: z.array(z.union([z.string(), z.number()])).min(1) }),
    z.strictObject({ all: z.array(conditionSchema).min(1) }),
    z.strictObject({ any: z.array(conditionSchema).min(1) }),
    z.strictObject({ not: conditionSchema }),
  ]),
);

const base = {
  id: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'ids are lower_snake_case, at most 40 characters'),
  text: z.string().min(1).max(1500),
  when: conditionSchema.optional(),
};

const choiceQuestion = z.strictObject({
  ...base,
  type: z.literal('choice'),
  /** Either inline options or the name of a scale of the flow. */
  options: z.array(optionSchema).min(1).max(10).optional(),
  scale: z.string().optional(),
  /** Invitation context key that answers this question without asking (e.g. respondentType). */
  prefill: z.string().optional(),
  /** Scoring metadata: the element (SIPAS group) this criterion belongs to. */
  element: z.string().optional(),
  /** The overall-satisfaction question of the flow. */
  overall: z.boolean().default(false),
  /** The respondent may skip it (a "Bỏ qua" button), e.g. the respondent profile. */
  optional: z.boolean().default(false),
});

const yesNoQuestion = z.strictObject({ ...base, type: z.literal('yesno'), observation: z.boolean().default(false) });

const textQuestion = z.strictObject({
  ...base,
  type: z.literal('text'),
  maxLength: z.number().int().min(1).max(4000).default(1000),
  optional: z.boolean().default(false),
});

const infoQuestion = z.strictObject({ ...base, type: z.literal('info') });

export const questionSchema = z.discriminatedUnion('type', [choiceQuestion, yesNoQuestion, textQuestion, infoQuestion]);

export const flowSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/, 'flow ids are lower-kebab-case'),
    version: z.number().int().positive(),
    title: z.string().min(1),
    scales: z.record(z.string(), z.array(optionSchema).min(2).max(10)).default({}),
    elements: z.array(z.strictObject({ code: z.string(), name: z.string() })).default([]),
    thankYou: z.string().min(1),
    questions: z.array(questionSchema).min(1),
  })
  .superRefine((flow, ctx) => {
    const seen = new Set<string>();
    const elements = new Set(flow.elements.map((e) => e.code));
    flow.questions.forEach((q, i) => {
      const at = (...p: Array<string | number>) => ['questions', i, ...p];
      if (seen.has(q.id)) ctx.addIssue({ code: 'custom', path: at('id'), message: `duplicate question id "${q.id}"` });
      seen.add(q.id);
      if (q.type === 'choice') {
        if (!!q.options === !!q.scale) ctx.addIssue({ code: 'custom', path: at(), message: 'a choice question has either options or scale' });
        if (q.scale && !flow.scales[q.scale]) ctx.addIssue({ code: 'custom', path: at('scale'), message: `unknown scale "${q.scale}"` });
        if (q.element && !elements.has(q.element)) ctx.addIssue({ code: 'custom', path: at('element'), message: `unknown element "${q.element}"` });
      }
      // Conditions may only look back: a question's branch depends on answers already given.
      const refs = q.when ? conditionRefs(q.when) : [];
      for (const ref of refs) {
        if (!seen.has(ref) || ref === q.id)
          ctx.addIssue({ code: 'custom', path: at('when'), message: `condition refers to "${ref}", which is not an earlier question` });
      }
    });
  });

function conditionRefs(c: Condition): string[] {
  if ('question' in c) return Array.isArray(c.question) ? c.question : [c.question];
  if ('all' in c) return c.all.flatMap(conditionRefs);
  if ('any' in c) return c.any.flatMap(conditionRefs);
  return conditionRefs(c.not);
}

export type FlowSource = z.input<typeof flowSchema>;
export type FlowData = z.output<typeof flowSchema>;
export type Question = FlowData['questions'][number];
export type Option = z.output<typeof optionSchema>;
export type AnswerValue = string | number | null;

/** A validated flow in one language, with its lookups precomputed once at load, never per update. */
export interface Flow extends FlowData {
  key: string;
  /** The language of its texts, and what the engine says in it. */
  lang: string;
  msg: Messages;
  /** The same flow in every language it is translated to (shared by all of them, the source language included). */
  variants: Map<string, Flow>;
  indexOf: Map<string, number>;
  optionsOf: Map<string, Option[]>;
}

const YES_NO_ALIASES = { yes: ['co', 'yes', 'y', 'c', 'dung', 'phai', 'co a'], no: ['khong', 'no', 'n', 'k', 'ko', 'kg', 'khong a'] };

export function compileFlow(data: FlowData, lang = SOURCE_LANGUAGE, msg: Messages = VI_MESSAGES, variants = new Map<string, Flow>()): Flow {
  const yesNo: Option[] = (['yes', 'no'] as const).map((v) => ({ value: v, label: msg[v], aliases: YES_NO_ALIASES[v], excluded: false }));
  const optionsOf = new Map<string, Option[]>();
  for (const q of data.questions) {
    if (q.type === 'choice') optionsOf.set(q.id, q.options ?? data.scales[q.scale!]!);
    if (q.type === 'yesno') optionsOf.set(q.id, yesNo);
  }
  const flow: Flow = {
    ...data,
    key: flowKey(data.id, data.version),
    lang,
    msg,
    variants,
    indexOf: new Map(data.questions.map((q, i) => [q.id, i])),
    optionsOf,
  };
  variants.set(lang, flow);
  return flow;
}

/** The flow in `lang`, or in the source language when it has no such translation. */
export const flowIn = (flow: Flow, lang: string | undefined) => flow.variants.get(lang ?? SOURCE_LANGUAGE) ?? flow.variants.get(SOURCE_LANGUAGE) ?? flow;

/**
 * About how many questions a respondent is asked, for the consent text
 * ({questionCount}): those that always apply after the first, less those the
 * invitation answers already. Conditional follow-ups are not counted.
 */
export function questionCount(flow: FlowData, ctx: Record<string, string>): number {
  return flow.questions.slice(1).filter((q) => q.type !== 'info' && !q.when && !(q.type === 'choice' && q.prefill && ctx[q.prefill] !== undefined)).length;
}

export const flowKey = (id: string, version: number) => `${id}@${version}`;
