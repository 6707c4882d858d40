// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IToken {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Constant-product swap pool used by the Parallax benchmarks.
/// @notice No constructor: token addresses and reserves are seeded directly in storage.
/// Storage layout (relied upon by the Rust benchmark code):
///   slot 0: token0   (address, low 160 bits)
///   slot 1: token1   (address, low 160 bits)
///   slot 2: reserve0 (uint112, bits 0..112) | reserve1 (uint112, bits 112..224)
contract Pair {
    address public token0;
    address public token1;
    uint112 private reserve0;
    uint112 private reserve1;

    event Swap(address indexed sender, uint256 amountIn, uint256 amountOut, bool zeroForOne);

    function getReserves() external view returns (uint112, uint112) {
        return (reserve0, reserve1);
    }

    function swap(uint256 amountIn, bool zeroForOne, uint256 minAmountOut)
        external
        returns (uint256 amountOut)
    {
        (uint256 r0, uint256 r1) = (reserve0, reserve1);
        (address tokenIn, address tokenOut, uint256 reserveIn, uint256 reserveOut) =
            zeroForOne ? (token0, token1, r0, r1) : (token1, token0, r1, r0);

        require(IToken(tokenIn).transferFrom(msg.sender, address(this), amountIn), "Pair: transferFrom failed");

        uint256 amountInWithFee = amountIn * 997;
        amountOut = (amountInWithFee * reserveOut) / (reserveIn * 1000 + amountInWithFee);
        require(amountOut >= minAmountOut, "Pair: insufficient output");
        require(amountOut < reserveOut, "Pair: insufficient liquidity");

        require(IToken(tokenOut).transfer(msg.sender, amountOut), "Pair: transfer failed");

        uint256 newIn = reserveIn + amountIn;
        uint256 newOut = reserveOut - amountOut;
        require(newIn <= type(uint112).max, "Pair: reserve overflow");
        if (zeroForOne) {
            (reserve0, reserve1) = (uint112(newIn), uint112(newOut));
        } else {
            (reserve0, reserve1) = (uint112(newOut), uint112(newIn));
        }

        emit Swap(msg.sender, amountIn, amountOut, zeroForOne);
    }
}
