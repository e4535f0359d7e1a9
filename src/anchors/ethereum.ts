// The Ethereum node, through viem: a public JSON-RPC client and a local
// account that signs offline. Signing is kept apart from sending so the signed
// transaction can be made durable before the node ever sees it.
import { createPublicClient, http, keccak256, toHex, type Hex, type PublicClient } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';

/** How geth, anvil, Nethermind and Besu say a transaction is already in their pool. */
const ALREADY_KNOWN = /already known|already imported|known transaction|AlreadyKnown|already in (the )?(tx|transaction) ?pool/i;

export interface SignedTransaction {
  hash: Hex;
  raw: Hex;
  nonce: number;
}

export interface IncludedAt {
  blockNumber: number;
  blockHash: Hex;
  /** 1 for a transaction that succeeded. */
  success: boolean;
}

export class EthereumNode {
  private readonly client: PublicClient;
  readonly account: PrivateKeyAccount;

  constructor(rpcUrl: string, privateKey: Hex, timeoutMs: number) {
    // No retries inside viem: the anchor loop retries with its own back-off and reports each failure.
    this.client = createPublicClient({ transport: http(rpcUrl, { timeout: timeoutMs, retryCount: 0 }) });
    this.account = privateKeyToAccount(privateKey);
  }

  chainId(): Promise<number> {
    return this.client.getChainId();
  }

  async head(): Promise<number> {
    return Number(await this.client.getBlockNumber({ cacheTime: 0 }));
  }

  /** An account's (by default this one's) next nonce counting transactions in the node's pool ('pending') or only mined ones ('latest'). */
  nonce(blockTag: 'pending' | 'latest', address: Hex = this.account.address): Promise<number> {
    return this.client.getTransactionCount({ address, blockTag });
  }

  /** A zero-value EIP-1559 transaction to the account itself, carrying `data`. */
  async sign(data: Uint8Array, nonce: number, chainId: number): Promise<SignedTransaction> {
    const hexData = toHex(data);
    const to = this.account.address;
    const [fees, gas] = await Promise.all([
      this.client.estimateFeesPerGas(),
      this.client.estimateGas({ account: this.account.address, to, data: hexData, value: 0n }),
    ]);
    const raw = await this.account.signTransaction({
      type: 'eip1559', chainId, nonce, to, data: hexData, value: 0n, gas,
      maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    return { hash: keccak256(raw), raw, nonce };
  }

  /** Hands the node the signed bytes; a node that already holds them (geth: "already known") is not a failure. */
  async send(raw: Hex): Promise<void> {
    try {
      await this.client.sendRawTransaction({ serializedTransaction: raw });
    } catch (error) {
      if (error instanceof Error && ALREADY_KNOWN.test(error.message)) return;
      throw error;
    }
  }

  /** Where the transaction was mined on the node's canonical chain, or null when it is not (pending, dropped, unknown). */
  async includedAt(hash: Hex): Promise<IncludedAt | null> {
    const receipt = await this.client.request({ method: 'eth_getTransactionReceipt', params: [hash] });
    if (receipt === null || receipt.blockHash === null || receipt.blockNumber === null) return null;
    return { blockNumber: Number(BigInt(receipt.blockNumber)), blockHash: receipt.blockHash, success: receipt.status === '0x1' };
  }

  /** Whether the node knows the transaction at all (in its pool or in a block). */
  async known(hash: Hex): Promise<boolean> {
    return (await this.client.request({ method: 'eth_getTransactionByHash', params: [hash] })) !== null;
  }

  /** The hash of the canonical block at `number`, or null past the head. */
  async blockHash(number: number): Promise<Hex | null> {
    const block = await this.client.request({ method: 'eth_getBlockByNumber', params: [toHex(number), false] });
    return block?.hash ?? null;
  }
}
