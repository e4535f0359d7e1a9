// The Ethereum node, through viem: a public JSON-RPC client and a local
// account that signs offline. Signing is kept apart from sending so the signed
// transaction can be made durable before the node ever sees it.
import { createPublicClient, http, keccak256, toHex, type Hex, type PublicClient } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Fees } from './fees.js';

/** How geth, anvil, Nethermind and Besu say a transaction is already in their pool. */
const ALREADY_KNOWN = /already known|already imported|known transaction|AlreadyKnown|already in (the )?(tx|transaction) ?pool/i;
/**
 * How they say it is priced too low to take: below the replacement minimum
 * (geth, anvil "replacement transaction underpriced", Besu REPLACEMENT_UNDERPRICED),
 * below the block's base fee (anvil, geth "max fee per gas less than block base
 * fee", Besu GAS_PRICE_BELOW_CURRENT_BASE_FEE) or below the pool's floor
 * (Nethermind FeeTooLow, Besu GAS_PRICE_TOO_LOW).
 */
const UNDERPRICED =
  /underpriced|fee ?too ?low|less than (the )?block base fee|below (the )?(current )?base ?fee|gas_price_too_low|gas_price_below|tip too low/i;

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
  gasUsed: bigint;
  /** What each unit of gas cost (base fee + the tip actually paid); null from a node whose receipts do not say. */
  gasPrice: bigint | null;
}

export interface Head {
  number: number;
  hash: Hex;
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

  /** The node's newest block: its number, and its hash (which tells a reorganisation to the same height apart). */
  async head(): Promise<Head> {
    const block = await this.client.request({ method: 'eth_getBlockByNumber', params: ['latest', false] });
    if (block?.hash == null || block.number == null) throw new Error('the node has no latest block');
    return { number: Number(BigInt(block.number)), hash: block.hash };
  }

  /** An account's (by default this one's) next nonce counting transactions in the node's pool ('pending') or only mined ones ('latest'). */
  nonce(blockTag: 'pending' | 'latest', address: Hex = this.account.address): Promise<number> {
    return this.client.getTransactionCount({ address, blockTag });
  }

  /** The node's EIP-1559 fees for a transaction now (viem: 1.2 × the latest base fee + eth_maxPriorityFeePerGas). */
  async fees(): Promise<Fees> {
    const { maxFeePerGas, maxPriorityFeePerGas } = await this.client.estimateFeesPerGas();
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  /** The gas a transaction carrying `data` to the account itself needs. */
  gasFor(data: Uint8Array): Promise<bigint> {
    return this.client.estimateGas({ account: this.account.address, to: this.account.address, data: toHex(data), value: 0n });
  }

  /** A zero-value EIP-1559 transaction to the account itself, carrying `data`. */
  async sign(data: Uint8Array, nonce: number, chainId: number, gas: bigint, fees: Fees): Promise<SignedTransaction> {
    const raw = await this.account.signTransaction({
      type: 'eip1559',
      chainId,
      nonce,
      to: this.account.address,
      data: toHex(data),
      value: 0n,
      gas,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    return { hash: keccak256(raw), raw, nonce };
  }

  /**
   * Hands the node the signed bytes: null once it holds them (a node that already
   * did, geth's "already known", is no failure), or the node's reason when it
   * refuses them as priced too low (the window is then bumped, not retried as is).
   */
  async send(raw: Hex): Promise<string | null> {
    try {
      await this.client.sendRawTransaction({ serializedTransaction: raw });
      return null;
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      if (ALREADY_KNOWN.test(error.message)) return null;
      const details = 'details' in error && typeof error.details === 'string' ? error.details : error.message;
      if (UNDERPRICED.test(error.message)) return details.split('\n')[0]!;
      throw error;
    }
  }

  /** Where the transaction was mined on the node's canonical chain, or null when it is not (pending, dropped, unknown). */
  async includedAt(hash: Hex): Promise<IncludedAt | null> {
    const receipt = await this.client.request({ method: 'eth_getTransactionReceipt', params: [hash] });
    if (receipt === null || receipt.blockHash === null || receipt.blockNumber === null) return null;
    return {
      blockNumber: Number(BigInt(receipt.blockNumber)),
      blockHash: receipt.blockHash,
      success: receipt.status === '0x1',
      gasUsed: BigInt(receipt.gasUsed),
      gasPrice: (receipt.effectiveGasPrice as Hex | undefined) === undefined ? null : BigInt(receipt.effectiveGasPrice),
    };
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
