/**
 * Published AWS list prices the cost bench uses: US East (N. Virginia), us-east-1, as the
 * pricing pages showed them on 2026-11-24 (first pricing tier of each service). Free tiers
 * are ignored on purpose (Step Functions' 4,000 free transitions a month, Lambda's 1M
 * requests and 400,000 GB-s, DynamoDB's 25 GB storage, …): the figures are the marginal
 * price of a link once those are used up. Storage, data transfer and CloudWatch Logs are
 * not counted.
 */
export const PRICE_REGION = 'us-east-1';
export const PRICES_CHECKED = '2026-11-24';

export const PRICES = {
  /**
   * Step Functions Standard workflows: $0.025 per 1,000 state transitions; every state
   * entered is a transition and retries count (docs/aws-facts.md#step-functions).
   * https://aws.amazon.com/step-functions/pricing/
   */
  stepFunctionsPerTransition: 0.025 / 1_000,
  /**
   * Lambda, Arm (Graviton2) price, first 7.5 billion GB-s tier: $0.0000133334 per GB-s;
   * $0.20 per 1M requests. Duration is billed rounded up to the next 1 ms.
   * https://aws.amazon.com/lambda/pricing/
   */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  /**
   * DynamoDB on-demand capacity (Standard table class), since the November 2024 price cut:
   * $0.125 per million read request units, $0.625 per million write request units.
   * https://aws.amazon.com/dynamodb/pricing/on-demand/
   */
  dynamoDbPerRru: 0.125 / 1_000_000,
  dynamoDbPerWru: 0.625 / 1_000_000,
  /**
   * API Gateway HTTP APIs: $1.00 per million requests (first 300 million a month; each
   * 512 KB of a request or response counts as one request, Tether's are far smaller).
   * https://aws.amazon.com/api-gateway/pricing/
   */
  httpApiPerRequest: 1.0 / 1_000_000,
} as const;
