/** Money: currencies and bigint minor-unit amounts. The only way amounts enter or leave. */
export * from './currency.ts';
export * from './money.ts';
