import { kafkaCommand } from '/work/main/scripts/cli/kafka.ts';
process.exitCode = await kafkaCommand(process.argv.slice(2), process.env);
