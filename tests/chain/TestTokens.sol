// SPDX-License-Identifier: MIT
// Test tokens for the chain-watcher tests (tests/chain): placed on anvil with anvil_setCode,
// so nothing here runs a constructor. Anyone may mint: these exist only on a local node.
pragma solidity ^0.8.20;

// An ERC-20 as far as the watcher cares: Transfer(address indexed, address indexed, uint256).
// Put at the real USDT address and, as a look-alike "USDT", at another address.
contract TestUSDT {
    event Transfer(address indexed from, address indexed to, uint256 value);
    mapping(address => uint256) public balanceOf;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    // many transfers in one transaction: the catch-up bench fills blocks fast
    function spray(address[] calldata to, uint256 value) external {
        for (uint256 i = 0; i < to.length; i++) emit Transfer(msg.sender, to[i], value);
    }
}

// ERC-721's Transfer has the same signature with the token id indexed: four topics. The
// watcher must not take it for money.
contract TestNFT {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function mint(address to, uint256 id) external {
        emit Transfer(address(0), to, id);
    }
}
