// Test-only command-line wrapper around typage (the `age-encryption` npm package), an
// independent implementation of age, so that tests/crypto/test_interop_typage.py can check that
// the portal's post-quantum (mlkem768x25519) files interoperate with it.
//
//   node age_tool.mjs version              prints the age-encryption version, then Node's
//   node age_tool.mjs keygen               prints a new hybrid identity (AGE-SECRET-KEY-PQ-1...)
//                                          on one line and its recipient (age1pq1...) on the next
//   node age_tool.mjs recipient            stdin: one identity line; prints its recipient
//   node age_tool.mjs encrypt RECIPIENT... stdin: plaintext; stdout: the binary age file
//   node age_tool.mjs decrypt              stdin: one identity line ending in "\n", then the
//                                          binary age file; stdout: the plaintext
//
// Identities travel on stdin only, never as arguments or in files. Exit status: 0 on success,
// 1 when typage refuses (the message on stderr), 2 on a usage error.

import { readFileSync } from "node:fs";
import * as age from "age-encryption";

const USAGE =
  "usage: node age_tool.mjs version | keygen | recipient | encrypt RECIPIENT... | decrypt";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function writeStdout(data) {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

// Splits stdin into its first line (an identity, without the line ending) and the bytes after it.
function splitIdentityLine(input) {
  const newline = input.indexOf(0x0a);
  if (newline < 0) {
    throw new UsageError("stdin must start with an identity line ending in a newline");
  }
  const identity = input.subarray(0, newline).toString("utf8").replace(/\r$/, "");
  return [identity, input.subarray(newline + 1)];
}

class UsageError extends Error {}

async function main(argv) {
  const [command, ...args] = argv;
  switch (command) {
    case "version": {
      const packageJson = new URL("./node_modules/age-encryption/package.json", import.meta.url);
      const { version } = JSON.parse(readFileSync(packageJson, "utf8"));
      await writeStdout(`${version}\n${process.version}\n`);
      return;
    }
    case "keygen": {
      const identity = await age.generateHybridIdentity();
      const recipient = await age.identityToRecipient(identity);
      await writeStdout(`${identity}\n${recipient}\n`);
      return;
    }
    case "recipient": {
      const [identity] = splitIdentityLine(await readStdin());
      await writeStdout(`${await age.identityToRecipient(identity)}\n`);
      return;
    }
    case "encrypt": {
      if (args.length === 0) {
        throw new UsageError("encrypt needs at least one recipient");
      }
      const encrypter = new age.Encrypter();
      for (const recipient of args) {
        encrypter.addRecipient(recipient);
      }
      const plaintext = new Uint8Array(await readStdin());
      await writeStdout(await encrypter.encrypt(plaintext));
      return;
    }
    case "decrypt": {
      const [identity, ciphertext] = splitIdentityLine(await readStdin());
      const decrypter = new age.Decrypter();
      decrypter.addIdentity(identity);
      await writeStdout(await decrypter.decrypt(new Uint8Array(ciphertext), "uint8array"));
      return;
    }
    default:
      throw new UsageError(USAGE);
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`age_tool: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
