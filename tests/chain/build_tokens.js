// Compiles TestTokens.sol with the solc npm package into runtime bytecode (JSON on stdout):
//   node tests/chain/build_tokens.js > build/chain/tokens.json
// Run by tests/chain/chainlib.py, which installs solc into build/npm first.
const fs = require("fs");
const path = require("path");
const solc = require(process.env.SOLC_MODULE || "solc");
const src = fs.readFileSync(path.join(__dirname, "TestTokens.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "TestTokens.sol": { content: src } },
  settings: { optimizer: { enabled: true, runs: 200 },
              outputSelection: { "*": { "*": ["evm.deployedBytecode.object"] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const c = out.contracts["TestTokens.sol"];
console.log(JSON.stringify({
  TestUSDT: "0x" + c.TestUSDT.evm.deployedBytecode.object,
  TestNFT: "0x" + c.TestNFT.evm.deployedBytecode.object,
}));
