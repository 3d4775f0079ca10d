// The bench peer's supergraph: two OpenAPI subgraphs over the sandbox emulators (one list
// route each), composed by Mesh Compose and served by Hive Gateway. bench/peer/__init__.py
// runs `mesh-compose` with PEER_UPSTREAM set to the emulator server's address.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const upstream = process.env.PEER_UPSTREAM;
if (!upstream) {
  throw new Error('PEER_UPSTREAM (the sandbox server, e.g. http://127.0.0.1:8001) is not set');
}
// The emulators accept any non-empty key.
const key = process.env.PEER_KEY ?? 'bench-peer';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('OpenSea', {
        source: './opensea.openapi.json',
        endpoint: `${upstream}/opensea`,
        operationHeaders: { 'x-api-key': key },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Alchemy', {
        source: './alchemy.openapi.json',
        endpoint: `${upstream}/alchemy/eth-mainnet/nft/v3/${key}`,
      }),
    },
  ],
});
