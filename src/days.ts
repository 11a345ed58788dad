// Calendar days as people in the campaign's time zone count them.

/** The day of `at` in `timezone`, YYYY-MM-DD. */
export const dayIn = (timezone: string, at: number) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

/** dd/mm/yyyy, as dates are written for people. */
export const dmy = (isoDate: string) => isoDate.split('-').reverse().join('/');
